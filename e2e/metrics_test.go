package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"passerelle/app"
)

// TestMetrics: the operational measurements follow what the server does,
// carry nothing a client chooses, and are not served on the API's listener.
func TestMetrics(t *testing.T) {
	ctx := liveCtx(t)
	e := serveWith(t, t, nil, func(c *app.Config) {
		c.Metrics = true
		c.Server.EnableIDE = true // the IDE is mounted at /: /metrics must not fall through to it
	})
	scrape := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		e.app.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("scrape: HTTP %d", rec.Code)
		}
		return rec.Body.String()
	}
	perine, forcilles := e.unitID("USP Sainte-Périne"), e.unitID("USP Forcilles")
	e.must(perineDoctor, "Inbox", map[string]any{"unitId": perine, "first": 10})
	if r := e.op(perineDoctor, "Inbox", map[string]any{"unitId": forcilles}); r.code() != "NOT_FOUND" {
		t.Fatalf("another unit's inbox: %+v", r.Errors)
	}
	// A client-chosen operation name must not become a label.
	e.post(e.token(perineDoctor), `query EvilName12345 { viewer { id } }`, "EvilName12345", nil)

	sub := liveMustDial(ctx, t, e, e.token(prescriber))
	sub.subscribe(ctx, t, `subscription { dashboardEvents { type } }`, "", nil)
	liveWaitSubscribers(ctx, t, e, 1)

	got := scrape()
	for _, want := range []string{
		`passerelle_graphql_root_field_duration_seconds_count{field="inbox",type="query"} 2`,
		`passerelle_graphql_root_field_duration_seconds_count{field="viewer",type="query"}`,
		`passerelle_graphql_root_field_duration_seconds_count{field="login",type="mutation"}`,
		`passerelle_graphql_errors_total{code="NOT_FOUND"} 1`,
		"passerelle_websocket_connections 1",
		"passerelle_live_subscriptions 1",
		`go_sql_open_connections{db_name="passerelle"}`,
		"go_goroutines",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// On a SQLite file, the background checkpoints of its write-ahead log.
	if _, ok := e.app.DB.Checkpoints(); ok {
		for _, want := range []string{"passerelle_sqlite_checkpoints_total", "passerelle_sqlite_wal_pages_behind"} {
			if !strings.Contains(got, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	} else if strings.Contains(got, "passerelle_sqlite_checkpoint") || strings.Contains(got, "passerelle_sqlite_wal") {
		t.Errorf("SQLite checkpoint metrics on %s", e.app.DB.Where)
	}
	// On SQLite, the turns at its single writer (the test has written).
	if _, ok := e.app.DB.WriteGate(); ok {
		for _, want := range []string{"passerelle_sqlite_write_held_seconds_total", "passerelle_sqlite_write_waiting 0"} {
			if !strings.Contains(got, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		if strings.Contains(got, "passerelle_sqlite_write_turns_total 0\n") {
			t.Errorf("no write turn counted: %s", got)
		}
	} else if strings.Contains(got, "passerelle_sqlite_write") {
		t.Errorf("SQLite write metrics on %s", e.app.DB.Where)
	}
	for _, leak := range []string{"EvilName12345", perine, forcilles, "medecin@"} {
		if strings.Contains(got, leak) {
			t.Errorf("metrics carry client data %q", leak)
		}
	}

	// The API's listener does not serve them.
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "passerelle_graphql") {
		t.Fatalf("the API listener serves the metrics: HTTP %d", resp.StatusCode)
	}

	// Closing the websocket is counted too.
	sub.c.CloseNow()
	for !strings.Contains(scrape(), "passerelle_websocket_connections 0") {
		select {
		case <-ctx.Done():
			t.Fatal("the closed websocket is still counted")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
