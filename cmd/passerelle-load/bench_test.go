package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"passerelle/authz"
	"passerelle/datagen"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/schema/rule"
	"passerelle/enums"
	"passerelle/graph/scalar"
	"passerelle/store"
	"passerelle/viewer"
)

type uuidT = uuid.UUID

// Viewers of the dashboards: a unit's receiving physician, and a
// prescriber holding two habilitations (the common case of a doctor working
// in two structures).
var (
	unitA, unitB     = uuid.New(), uuid.New()
	structA, structB = uuid.New(), uuid.New()
	receiverViewer   = &viewer.Viewer{UserID: uuid.New(), ReceivingUnits: []uuid.UUID{unitA},
		Habilitations: []viewer.Habilitation{{ID: uuid.New(), Profile: enums.ProfileReceiverPhysician, StructureID: structB,
			StructureKind: enums.StructureKindUsp, UnitID: &unitA}}}
	prescriberViewer = &viewer.Viewer{UserID: uuid.New(), Habilitations: []viewer.Habilitation{
		{ID: uuid.New(), Profile: enums.ProfilePrescriberPhysician, StructureID: structA, StructureKind: enums.StructureKindMco},
		{ID: uuid.New(), Profile: enums.ProfileCareTeam, StructureID: structB, StructureKind: enums.StructureKindSmr},
	}}
)

// BenchmarkOnRequest is the authorization check of every request field
// decision (sections, mutations): the union of the viewer's actions.
func BenchmarkOnRequest(b *testing.B) {
	scope := authz.RequestScope{OriginStructure: structA, DispatchedUnits: []uuid.UUID{unitB, unitA, uuid.New()}}
	b.Run("receiver", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			all, _ := authz.OnRequest(receiverViewer, scope)
			if !all[authz.ReadMedical] {
				b.Fatal("receiver cannot read")
			}
		}
	})
	b.Run("prescriber", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			all, _ := authz.OnRequest(prescriberViewer, scope)
			if !all[authz.ValidateMedical] {
				b.Fatal("prescriber cannot validate")
			}
		}
	})
}

// BenchmarkOnVisibleRequest is what the @section directive calls (once per
// request per operation, then cached).
func BenchmarkOnVisibleRequest(b *testing.B) {
	scope := authz.RequestScope{OriginStructure: structA}
	none := func() ([]uuid.UUID, error) { return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := authz.OnVisibleRequest(receiverViewer, scope, none); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestVisibleSQL renders the row rule of requests into SQL, as
// every query on requests, sections, patients and dispatches does.
func BenchmarkRequestVisibleSQL(b *testing.B) {
	for _, c := range []struct {
		name string
		v    *viewer.Viewer
	}{{"receiver", receiverViewer}, {"prescriber", prescriberViewer}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := entsql.Dialect("sqlite3").Select(admissionrequest.FieldID).From(entsql.Table(admissionrequest.Table))
				rule.RequestVisible(c.v)(s)
				if q, _ := s.Query(); q == "" {
					b.Fatal("empty query")
				}
			}
		})
	}
}

// BenchmarkCursor encodes the cursor of an inbox edge (msgpack + base64),
// 50 times per inbox page: by entgql, and as served (scalar.MarshalCursor,
// the same bytes).
func BenchmarkCursor(b *testing.B) {
	c := entgql.Cursor[uuid.UUID]{ID: uuid.New(), Value: []any{time.Now()}}
	for name, m := range map[string]graphql.Marshaler{"entgql": c, "served": scalar.MarshalCursor(c)} {
		b.Run(name, func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				m.MarshalGQL(&buf)
			}
		})
	}
}

// BenchmarkBaselineInboxJSON is the baseline's share of S1 outside the
// database: encoding one page of 50 edges.
func BenchmarkBaselineInboxJSON(b *testing.B) {
	var out inboxAnswer
	for i := range pageSize {
		id := uuid.New()
		out.Data.Inbox.Edges = append(out.Data.Inbox.Edges, inboxEdge{Cursor: cursor(id, time.Now()), Node: inboxNode{
			ID: id, Status: "PENDING", SentAt: time.Now(), Request: inboxRequest{ID: uuid.New(),
				Reference: fmt.Sprintf("USP-2026-%06d", i), Urgency: "WITHIN_48H",
				Patient: inboxPatient{BirthName: "Durand", FirstName: "Élise", BirthDate: "1948-03-12"}}}})
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := jsonEncode(&buf, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTarget is a server on a small generated data set, driven through its
// handler in process (no sockets): the whole GraphQL stack of S1 and S2.
// With PASSERELLE_BENCH_DATA set to a generated SQLite file (passerelle
// generate --preset idf), a copy of that file is served instead: the
// dashboards at the scale of the load harness, with benchstat's precision.
// PASSERELLE_BENCH_RESOLVERS_ONLY=1 serves without the direct reads
// (app.Config.ResolversOnly), to compare both paths.
func benchTarget(b *testing.B) *target {
	b.Helper()
	dir := b.TempDir()
	ctx := context.Background()
	if src := os.Getenv("PASSERELLE_BENCH_DATA"); src != "" {
		if err := copyFile(src, filepath.Join(dir, "passerelle.db")); err != nil {
			b.Fatal(err)
		}
		// And the access log's file beside it (store/audit.go), if any.
		audit := store.AuditPath(filepath.Join(dir, "passerelle.db"))
		if err := copyFile(store.AuditPath(src), audit); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Fatal(err)
		}
	} else if err := generateBenchData(ctx, dir); err != nil {
		b.Fatal(err)
	}
	t, err := startTarget(ctx, store.Config{DatabaseURL: store.SQLiteDSN(filepath.Join(dir, "passerelle.db"))}, 4, nil, false,
		serving{resolversOnly: os.Getenv("PASSERELLE_BENCH_RESOLVERS_ONLY") == "1"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(t.close)
	return t
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// generateBenchData writes the small data set (4 000 requests) into dir.
func generateBenchData(ctx context.Context, dir string) error {
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	return datagen.Generate(ctx, db.Client, datagen.Config{Preset: "idf", Requests: 4000, Seed: 3}, nil)
}

func serveBench(b *testing.B, h http.Handler, token string, body []byte) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors":[`)) {
			b.Fatalf("HTTP %d: %s", rec.Code, truncate(rec.Body.Bytes()))
		}
	}
}

// BenchmarkInboxHandler is S1 through the server's handler (4 000 requests
// generated).
func BenchmarkInboxHandler(b *testing.B) {
	t := benchTarget(b)
	serveBench(b, t.app.Handler, t.receiver.token,
		gqlBody(inboxDoc, "Inbox", map[string]any{"unitId": t.unitID, "first": pageSize}))
}

// BenchmarkDashboardHandler is S2 through the server's handler.
func BenchmarkDashboardHandler(b *testing.B) {
	t := benchTarget(b)
	serveBench(b, t.app.Handler, t.prescriber.token, gqlBody(dashboardDoc, "Dashboard", map[string]any{"first": pageSize}))
}

// BenchmarkWorkflowIteration is one S3 iteration (ten mutations, each an
// HTTP request to the server on loopback) and, beside it, the raw path's ten
// transactions, on the same data. cpu-ns/op is the process's CPU time per
// iteration (client and server: the load harness's "cpu/op self"), steadier
// than the wall time on a shared host:
//
//	PASSERELLE_BENCH_DATA=/tmp/idf/passerelle.db go test -run '^$' \
//	  -bench WorkflowIteration -count 6 ./cmd/passerelle-load/ | tee new.txt
func BenchmarkWorkflowIteration(b *testing.B) {
	t := benchTarget(b)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		op   operation
	}{
		{"graphql", t.s3()},
		{"raw", (&rawWorkflow{db: t.app.DB.SQL, t: t}).op()},
	} {
		b.Run(c.name, func(b *testing.B) {
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			for b.Loop() {
				if _, err := c.op(ctx, 0); err != nil {
					b.Fatal(err)
				}
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
