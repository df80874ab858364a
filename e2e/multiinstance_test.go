package e2e

// Several instances on one PostgreSQL database, each behind its own HTTP
// server, as behind a load balancer: events of mutations made on one reach
// the subscribers of the other, in order, once each, across a dropped
// listener connection; cursors resume on either instance; concurrent
// confirms from both instances leave exactly one winner.
//
// Needs PASSERELLE_TEST_POSTGRES (skipped otherwise; failed when
// PASSERELLE_REQUIRE_POSTGRES=1).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/coder/websocket"
	"github.com/google/uuid"

	"passerelle/app"
	"passerelle/demo"
	"passerelle/ent/dispatch"
	"passerelle/ent/event"
	"passerelle/enums"
	"passerelle/events"
	"passerelle/graph"
	"passerelle/server"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// miDatabase returns a fresh PostgreSQL database for several instances, or
// skips (fails under PASSERELLE_REQUIRE_POSTGRES=1).
func miDatabase(t *testing.T) string {
	t.Helper()
	if storetest.PostgresURL() == "" {
		if os.Getenv("PASSERELLE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PostgreSQL required (PASSERELLE_REQUIRE_POSTGRES=1) but PASSERELLE_TEST_POSTGRES is not set")
		}
		t.Skip("multi-instance tests need PostgreSQL: set PASSERELLE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return storetest.DatabaseURL(t)
}

// miInstance starts one more instance on the database at url, its event
// listener named listenerName in pg_stat_activity.
func miInstance(t *testing.T, url, listenerName string) *env {
	t.Helper()
	return miInstanceBackoff(t, url, listenerName, 100*time.Millisecond)
}

// miInstanceBackoff is miInstance with the listener's first reconnection
// delay.
func miInstanceBackoff(t *testing.T, url, listenerName string, backoff time.Duration) *env {
	t.Helper()
	return miInstanceWith(t, url, listenerName, backoff, nil)
}

// miInstanceWith is miInstanceBackoff with a change to the configuration
// (nil: none).
func miInstanceWith(t *testing.T, url, listenerName string, backoff time.Duration, change func(*app.Config)) *env {
	t.Helper()
	cfg := app.Config{
		Store:    store.Config{DatabaseURL: url},
		Server:   server.Config{EnableIntrospection: true},
		Limits:   graph.Limits{MutationsPerMinute: 1 << 20, MutationBurst: 1 << 20},
		Demo:     true,
		Logger:   testLogger(),
		Listener: events.ListenerConfig{ApplicationName: listenerName, BackoffMin: backoff, BackoffMax: 2 * backoff},
	}
	if change != nil {
		change(&cfg)
	}
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	if a.Listener == nil {
		t.Fatal("no event listener on PostgreSQL")
	}
	return &env{t: t, app: a, srv: srv, tokens: map[string]string{}}
}

// miClient is a minimal graphql-transport-ws client.
type miClient struct {
	conn *websocket.Conn
	mu   sync.Mutex
	subs map[string]*miSub
	next int
	err  error
	done chan struct{}
}

// miSub collects the events of one subscription.
type miSub struct {
	mu     sync.Mutex
	events []miEvent
	errors []string
	ended  bool
	notify chan struct{}
}

// miEvent is one delivered event.
type miEvent struct {
	ID      int64 // the event id behind the cursor
	Cursor  string
	Type    string
	Request string
}

type miMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func miDial(ctx context.Context, t *testing.T, e *env, token string) *miClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	c := &miClient{conn: conn, subs: map[string]*miSub{}, done: make(chan struct{})}
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	c.write(ctx, t, miMessage{Type: "connection_init", Payload: miJSON(map[string]any{"Authorization": "Bearer " + token})})
	var ack miMessage
	if err := c.read(ctx, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", ack, err)
	}
	go c.loop(context.Background())
	return c
}

func miJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (c *miClient) read(ctx context.Context, m *miMessage) error {
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, m)
}

func (c *miClient) write(ctx context.Context, t *testing.T, m miMessage) {
	b, _ := json.Marshal(m)
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Errorf("websocket write: %v", err)
	}
}

func (c *miClient) loop(ctx context.Context) {
	defer close(c.done)
	for {
		var m miMessage
		if err := c.read(ctx, &m); err != nil {
			c.mu.Lock()
			c.err = err
			for _, s := range c.subs {
				s.end("connection closed: " + err.Error())
			}
			c.mu.Unlock()
			return
		}
		switch m.Type {
		case "ping":
			b, _ := json.Marshal(miMessage{Type: "pong"})
			_ = c.conn.Write(ctx, websocket.MessageText, b)
			continue
		case "pong":
			continue
		}
		c.mu.Lock()
		s := c.subs[m.ID]
		c.mu.Unlock()
		if s == nil {
			continue
		}
		switch m.Type {
		case "next":
			var p struct {
				Data   map[string]map[string]any `json:"data"`
				Errors []gqlError                `json:"errors"`
			}
			_ = json.Unmarshal(m.Payload, &p)
			for _, ev := range p.Data {
				cur, _ := ev["cursor"].(string)
				typ, _ := ev["type"].(string)
				s.add(miEvent{ID: miCursorID(cur), Cursor: cur, Type: typ, Request: str(ev, "request.id")})
			}
			for _, ge := range p.Errors {
				s.fail(ge.Message)
			}
		case "error":
			s.fail(string(m.Payload))
			s.end("error")
		case "complete":
			s.end("complete")
		}
	}
}

// miCursorID decodes the event id of a cursor.
func miCursorID(s string) int64 {
	var c entgql.Cursor[uuid.UUID]
	if err := c.UnmarshalGQL(s); err != nil {
		return -1
	}
	var id int64
	if _, err := fmt.Sscan(fmt.Sprint(c.Value), &id); err != nil {
		return -1
	}
	return id
}

func (c *miClient) subscribe(ctx context.Context, t *testing.T, query string, vars map[string]any) *miSub {
	t.Helper()
	c.mu.Lock()
	c.next++
	id := fmt.Sprint(c.next)
	s := &miSub{notify: make(chan struct{}, 1)}
	c.subs[id] = s
	c.mu.Unlock()
	c.write(ctx, t, miMessage{ID: id, Type: "subscribe", Payload: miJSON(map[string]any{"query": query, "variables": vars})})
	return s
}

func (s *miSub) add(e miEvent) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	s.poke()
}

func (s *miSub) fail(msg string) {
	s.mu.Lock()
	s.errors = append(s.errors, msg)
	s.mu.Unlock()
	s.poke()
}

func (s *miSub) end(why string) {
	s.mu.Lock()
	if !s.ended {
		s.ended = true
		s.errors = append(s.errors, "ended: "+why)
	}
	s.mu.Unlock()
	s.poke()
}

func (s *miSub) poke() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// until waits for cond on the events received so far.
func (s *miSub) until(ctx context.Context, t *testing.T, what string, cond func([]miEvent) bool) []miEvent {
	t.Helper()
	for {
		s.mu.Lock()
		evs, errs, ended := slices.Clone(s.events), slices.Clone(s.errors), s.ended
		s.mu.Unlock()
		if cond(evs) {
			return evs
		}
		if ended || len(errs) > 0 {
			t.Fatalf("waiting for %s: subscription errors %v (got %d events)", what, errs, len(evs))
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (got %d events: %v)", what, ctx.Err(), len(evs), miIDs(evs))
		}
	}
}

func miIDs(evs []miEvent) []int64 {
	ids := make([]int64, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

const miDashboard = `subscription Dash($after: Cursor) { dashboardEvents(after: $after) { cursor type request { id } } }`
const miRequestEvents = `subscription Req($requestId: ID!, $after: Cursor) { requestEvents(requestId: $requestId, after: $after) { cursor type request { id } } }`

// miEventIDs returns the ids of the events in the database, in order, of
// one request (or all when requestID is empty), with an id > after.
func miEventIDs(t *testing.T, e *env, requestID string, after int64) []int64 {
	t.Helper()
	q := e.app.DB.Client.Event.Query().Where(event.IDGT(after)).Order(event.ByID())
	if requestID != "" {
		q.Where(event.RequestID(uuid.MustParse(requestID)))
	}
	ids, err := q.IDs(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func miHead(t *testing.T, e *env) int64 {
	t.Helper()
	ids := miEventIDs(t, e, "", 0)
	if len(ids) == 0 {
		return 0
	}
	return ids[len(ids)-1]
}

// miSettle waits until every instance delivered the events up to the
// current head, so that a subscription opened next receives later events
// only.
func miSettle(ctx context.Context, t *testing.T, envs ...*env) int64 {
	t.Helper()
	head := miHead(t, envs[0])
	for _, e := range envs {
		for e.app.Relay.Last() < head {
			if ctx.Err() != nil {
				t.Fatalf("instance stuck at event %d, head %d", e.app.Relay.Last(), head)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return head
}

// miCheckStream fails unless got holds exactly the ids of want, in order.
func miCheckStream(t *testing.T, what string, got []miEvent, want []int64) {
	t.Helper()
	ids := miIDs(got)
	if !slices.Equal(ids, want) {
		var missing, extra []int64
		for _, id := range want {
			if !slices.Contains(ids, id) {
				missing = append(missing, id)
			}
		}
		for _, id := range ids {
			if !slices.Contains(want, id) {
				extra = append(extra, id)
			}
		}
		t.Fatalf("%s: got %v\nwant %v\nmissing %v, unexpected %v", what, ids, want, missing, extra)
	}
}

// miKillListener terminates the listener connection(s) named name.
func miKillListener(t *testing.T, e *env, name string) int {
	t.Helper()
	var n int
	err := e.app.DB.SQL.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// miDo posts one GraphQL request from any goroutine.
func miDo(baseURL, _ string, token, query, opName string, vars map[string]any) (result, int, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": opName, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, baseURL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return result{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, 0, err
	}
	defer resp.Body.Close()
	var r result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return result{}, resp.StatusCode, fmt.Errorf("%s: HTTP %d: %w", opName, resp.StatusCode, err)
	}
	return r, resp.StatusCode, nil
}

func miReadyz(e *env) int {
	resp, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A subscriber on B receives, in order and once each, the events of
// mutations made on A, across a killed listener connection; its cursor
// resumes on A.
func TestMultiInstanceEvents(t *testing.T) {
	url := miDatabase(t)
	a := miInstance(t, url, "passerelle-listener-a")
	b := miInstanceBackoff(t, url, "passerelle-listener-b", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := a.draftRequest(prescriber)
	start := miSettle(ctx, t, a, b)
	c := miDial(ctx, t, b, b.token(prescriber))
	req := c.subscribe(ctx, t, miRequestEvents, map[string]any{"requestId": id})
	dash := c.subscribe(ctx, t, miDashboard, nil)
	for b.app.Broker.Count() < 2 {
		time.Sleep(5 * time.Millisecond)
	}

	save := func(i int) {
		a.must(careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"dependence": fmt.Sprint("step ", i)}})
	}
	for i := range 10 {
		save(i)
	}
	req.until(ctx, t, "the first events", func(evs []miEvent) bool { return len(evs) >= 10 })

	// Kill B's listener mid-stream and write on A while it is away: the
	// notifications of those events are lost, the backlog read after the
	// reconnection must bring them.
	if n := miKillListener(t, b, "passerelle-listener-b"); n != 1 {
		t.Fatalf("terminated %d listener connections of B, want 1", n)
	}
	for miReadyz(b) != http.StatusServiceUnavailable {
		if ctx.Err() != nil {
			t.Fatal("B's /readyz never reported the listener down")
		}
		time.Sleep(2 * time.Millisecond)
	}
	for i := 10; i < 30; i++ {
		save(i)
	}
	if b.app.Listener.Connections() != 1 {
		t.Log("B's listener reconnected before the writes ended: the backlog read is only partly exercised")
	}
	want := miEventIDs(t, a, id, start)
	if len(want) != 30 {
		t.Fatalf("%d events written, want 30", len(want))
	}
	got := req.until(ctx, t, "every event after the reconnection", func(evs []miEvent) bool {
		return len(evs) >= len(want)
	})
	miCheckStream(t, "request subscriber on B", got, want)
	gotDash := dash.until(ctx, t, "the dashboard", func(evs []miEvent) bool {
		return len(evs) > 0 && evs[len(evs)-1].ID >= want[len(want)-1]
	})
	miCheckStream(t, "dashboard subscriber on B", gotDash, miEventIDs(t, a, "", start))
	if b.app.Listener.Connections() < 2 {
		t.Errorf("B's listener connected %d times, want a reconnection", b.app.Listener.Connections())
	}
	if code := miReadyz(b); code != http.StatusOK {
		t.Errorf("B's /readyz answers %d after the reconnection", code)
	}

	// Resume with a cursor from B on A: the rest, in order, then live.
	mid := got[14]
	ca := miDial(ctx, t, a, a.token(prescriber))
	resumed := ca.subscribe(ctx, t, miRequestEvents, map[string]any{"requestId": id, "after": mid.Cursor})
	rest := resumed.until(ctx, t, "the replay on A", func(evs []miEvent) bool { return len(evs) >= 15 })
	miCheckStream(t, "resumed on A", rest, want[15:])
	save(30)
	last := miEventIDs(t, a, id, want[len(want)-1])
	rest = resumed.until(ctx, t, "a live event on A", func(evs []miEvent) bool { return len(evs) >= 16 })
	miCheckStream(t, "resumed on A, then live", rest, append(slices.Clone(want[15:]), last...))
	got = req.until(ctx, t, "the live event on B", func(evs []miEvent) bool { return len(evs) >= 31 })
	miCheckStream(t, "request subscriber on B, at the end", got, append(slices.Clone(want), last...))
}

// Writers on both instances at once: every subscriber, on either instance,
// receives every event once, in increasing id order (commit order = id
// order under the event lock, else a later commit of a smaller id would
// be skipped).
func TestMultiInstanceConcurrentWritersOrdered(t *testing.T) {
	url := miDatabase(t)
	a := miInstance(t, url, "passerelle-listener-a")
	b := miInstance(t, url, "passerelle-listener-b")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const requests, saves = 8, 10
	ids := make([]string, requests)
	for i := range ids {
		ids[i] = a.draftRequest(prescriber)
	}
	start := miSettle(ctx, t, a, b)
	var subs []*miSub
	for _, e := range []*env{a, b} {
		c := miDial(ctx, t, e, e.token(prescriber))
		subs = append(subs, c.subscribe(ctx, t, miDashboard, nil))
		for e.app.Broker.Count() < 1 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	tokA, tokB := a.token(careTeam), b.token(careTeam)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, tok := a, tokA
			if i%2 == 1 {
				e, tok = b, tokB
			}
			for j := range saves {
				r, _, err := miDo(e.srv.URL, "", tok, contract, "SaveCareProject",
					map[string]any{"requestId": id, "input": map[string]any{"dependence": fmt.Sprint(i, "/", j)}})
				if err != nil || len(r.Errors) > 0 {
					t.Errorf("save %d/%d: %v %+v", i, j, err, r.Errors)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := miEventIDs(t, a, "", start)
	if len(want) != requests*saves {
		t.Fatalf("%d events written, want %d", len(want), requests*saves)
	}
	for i, s := range subs {
		got := s.until(ctx, t, "every event", func(evs []miEvent) bool {
			return len(evs) > 0 && evs[len(evs)-1].ID >= want[len(want)-1]
		})
		miCheckStream(t, fmt.Sprintf("dashboard on instance %c", 'A'+i), got, want)
	}
}

// Concurrent confirms from both instances (8 goroutines on each, over the
// two accepted dispatches of one request): exactly one wins, the others get
// CONFLICT; one dispatch confirmed, one DISPATCH_CONFIRMED event.
func TestMultiInstanceConcurrentConfirms(t *testing.T) {
	url := miDatabase(t)
	a := miInstance(t, url, "passerelle-listener-a")
	b := miInstance(t, url, "passerelle-listener-b")
	perine, garnier := a.unitID("USP Sainte-Périne"), a.unitID("Maison médicale Jeanne Garnier")
	tokA, tokB := a.token(prescriber), b.token(prescriber)

	for round := range 5 {
		id := a.readyRequest(prescriber)
		sent := a.must(prescriber, "Send", map[string]any{"requestId": id, "unitIds": []string{perine, garnier}})
		dispatchOf := map[string]string{}
		for _, d := range get(sent, "sendAdmissionRequest.dispatches").([]any) {
			dispatchOf[str(d, "unit.id")] = str(d, "id")
		}
		for unit, doctor := range map[string]string{perine: perineDoctor, garnier: garnierDoc} {
			b.must(doctor, "OpenDispatch", map[string]any{"dispatchId": dispatchOf[unit]})
			b.must(doctor, "Answer", map[string]any{"dispatchId": dispatchOf[unit], "input": map[string]any{"decision": "ACCEPT"}})
		}
		targets := []string{dispatchOf[perine], dispatchOf[garnier]}

		type answer struct {
			r   result
			err error
		}
		answers := make([]answer, 16)
		begin := make(chan struct{})
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base, tok := a.srv.URL, tokA
				if i >= 8 {
					base, tok = b.srv.URL, tokB
				}
				<-begin
				r, _, err := miDo(base, "", tok, contract, "Confirm", map[string]any{"dispatchId": targets[i%2]})
				answers[i] = answer{r, err}
			}()
		}
		close(begin)
		wg.Wait()
		wins := 0
		for i, an := range answers {
			switch {
			case an.err != nil:
				t.Fatalf("round %d, call %d: %v", round, i, an.err)
			case len(an.r.Errors) == 0:
				wins++
			case an.r.code() != "CONFLICT":
				t.Errorf("round %d, call %d: want CONFLICT, got %s: %+v", round, i, an.r.code(), an.r.Errors)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d confirms won, want exactly 1", round, wins)
		}
		sys := viewer.System(context.Background())
		n, err := a.app.DB.Client.Dispatch.Query().
			Where(dispatch.RequestID(uuid.MustParse(id)), dispatch.StatusEQ(enums.DispatchStatusConfirmed)).Count(sys)
		if err != nil || n != 1 {
			t.Errorf("round %d: %d confirmed dispatches (%v), want 1", round, n, err)
		}
		n, err = a.app.DB.Client.Event.Query().
			Where(event.RequestID(uuid.MustParse(id)), event.TypeEQ(enums.EventTypeDispatchConfirmed)).Count(sys)
		if err != nil || n != 1 {
			t.Errorf("round %d: %d DISPATCH_CONFIRMED events (%v), want 1", round, n, err)
		}
	}
}

// serve refuses a database whose schema is behind, naming the command;
// --migrate (Config.Migrate) brings it up to date.
func TestServeRefusesSchemaBehind(t *testing.T) {
	url := storetest.DatabaseURL(t)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DatabaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Tables from ent's former automatic migration, no recorded version.
	if err := db.Client.Schema.Create(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = app.New(ctx, app.Config{Store: store.Config{DatabaseURL: url}})
	if !errors.Is(err, store.ErrSchemaBehind) || !strings.Contains(err.Error(), "passerelle migrate") {
		t.Fatalf("app.New on a schema that is behind: %v", err)
	}
	a, err := app.New(ctx, app.Config{Store: store.Config{DatabaseURL: url}, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err = app.New(ctx, app.Config{Store: store.Config{DatabaseURL: url}})
	if err != nil {
		t.Fatalf("app.New once migrated: %v", err)
	}
	a.Close()
}

// miQuantiles reports p50 and p99 of ds as benchmark metrics.
func miQuantiles(b *testing.B, prefix string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), prefix+"-p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), prefix+"-p99-µs")
}

// BenchmarkEventDelivery: time from a mutation's response on instance A to
// its event reaching a subscriber on A (single instance: in-process relay)
// and one on B (cross-instance: NOTIFY, listener, read back). PostgreSQL
// only:
//
//	PASSERELLE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./e2e -run '^$' -bench EventDelivery -benchtime 200x
func BenchmarkEventDelivery(b *testing.B) {
	if storetest.PostgresURL() == "" {
		b.Skip("needs PASSERELLE_TEST_POSTGRES")
	}
	url := storetest.DatabaseURL(b)
	a := miBenchInstance(b, url, "passerelle-listener-a")
	bb := miBenchInstance(b, url, "passerelle-listener-b")
	ctx := context.Background()
	id := miBenchDraft(b, a)
	tok := miBenchToken(b, a, careTeam)
	subA := miBenchSubscribe(ctx, b, a, id)
	subB := miBenchSubscribe(ctx, b, bb, id)
	var local, remote, mutation []time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		r, _, err := miDo(a.srv.URL, "", tok, contract, "SaveCareProject",
			map[string]any{"requestId": id, "input": map[string]any{"dependence": fmt.Sprint(i)}})
		if err != nil || len(r.Errors) > 0 {
			b.Fatalf("%v %+v", err, r.Errors)
		}
		t1 := time.Now()
		mutation = append(mutation, t1.Sub(t0))
		for j, s := range []chan time.Time{subA, subB} {
			select {
			case at := <-s:
				d := max(at.Sub(t1), 0)
				if j == 0 {
					local = append(local, d)
				} else {
					remote = append(remote, d)
				}
			case <-time.After(10 * time.Second):
				b.Fatal("event not delivered")
			}
		}
	}
	b.StopTimer()
	miQuantiles(b, "mutation", mutation)
	miQuantiles(b, "same-instance", local)
	miQuantiles(b, "cross-instance", remote)
}

// miBench* are the harness helpers for benchmarks (no *testing.T there).
func miBenchInstance(b *testing.B, url, listener string) *env {
	a, err := app.New(context.Background(), app.Config{
		Store:    store.Config{DatabaseURL: url},
		Limits:   graph.Limits{MutationsPerMinute: 1 << 20, MutationBurst: 1 << 20},
		Demo:     true,
		Logger:   testLogger(),
		Listener: events.ListenerConfig{ApplicationName: listener},
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	b.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &env{app: a, srv: srv, tokens: map[string]string{}}
}

func miBenchToken(b *testing.B, e *env, who string) string {
	r, _, err := miDo(e.srv.URL, "", "", contract, "Login", map[string]any{"email": who, "password": demo.Password})
	if err != nil || len(r.Errors) > 0 {
		b.Fatalf("login %s: %v %+v", who, err, r.Errors)
	}
	return str(r.Data, "login.token")
}

func miBenchDraft(b *testing.B, e *env) string {
	tok := miBenchToken(b, e, prescriber)
	me, _, err := miDo(e.srv.URL, "", tok, contract, "Viewer", nil)
	if err != nil {
		b.Fatal(err)
	}
	r, _, err := miDo(e.srv.URL, "", tok, contract, "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": str(me.Data, "viewer.habilitations.0.structure.id"), "urgency": "WITHIN_WEEK",
		"patient": map[string]any{"birthName": "Durand", "firstName": "Élise", "birthDate": "1948-03-12", "sex": "FEMALE"},
	}})
	if err != nil || len(r.Errors) > 0 {
		b.Fatalf("create: %v %+v", err, r.Errors)
	}
	return str(r.Data, "createAdmissionRequest.request.id")
}

// miBenchSubscribe subscribes to a request's events on e and returns the
// arrival time of each event.
func miBenchSubscribe(ctx context.Context, b *testing.B, e *env, requestID string) chan time.Time {
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	send := func(m miMessage) {
		p, _ := json.Marshal(m)
		if err := conn.Write(ctx, websocket.MessageText, p); err != nil {
			b.Fatal(err)
		}
	}
	send(miMessage{Type: "connection_init", Payload: miJSON(map[string]any{"Authorization": "Bearer " + miBenchToken(b, e, prescriber)})})
	if _, p, err := conn.Read(ctx); err != nil || !strings.Contains(string(p), "connection_ack") {
		b.Fatalf("connection_init: %s %v", p, err)
	}
	n := e.app.Broker.Count()
	send(miMessage{ID: "1", Type: "subscribe", Payload: miJSON(map[string]any{"query": miRequestEvents, "variables": map[string]any{"requestId": requestID}})})
	for e.app.Broker.Count() <= n {
		time.Sleep(time.Millisecond)
	}
	out := make(chan time.Time, 1<<16)
	go func() {
		for {
			_, p, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m miMessage
			if json.Unmarshal(p, &m) == nil && m.Type == "next" {
				out <- time.Now()
			}
		}
	}()
	return out
}

// BenchmarkWorkflowMutations: the request life cycle (create, three section
// saves, validate, send, open, answer, confirm: nine event-writing
// mutations) through HTTP by 4 concurrent clients, on the engine the tests
// run on (SQLite in memory, or PostgreSQL with PASSERELLE_TEST_POSTGRES).
// One op is one life cycle; mutations/s and per-mutation p50/p99 are
// reported.
//
//	go test ./e2e -run '^$' -bench WorkflowMutations -benchtime 40x
func BenchmarkWorkflowMutations(b *testing.B) {
	e := miBenchInstance(b, storetest.DatabaseURL(b), "passerelle-listener-bench")
	toks := map[string]string{}
	for _, who := range []string{prescriber, careTeam, perineDoctor} {
		toks[who] = miBenchToken(b, e, who)
	}
	me, _, _ := miDo(e.srv.URL, "", toks[prescriber], contract, "Viewer", nil)
	structure := str(me.Data, "viewer.habilitations.0.structure.id")
	units, _, _ := miDo(e.srv.URL, "", toks[prescriber], contract, "UspUnits", nil)
	var perine string
	for _, u := range get(units.Data, "uspUnits").([]any) {
		if str(u, "name") == "USP Sainte-Périne" {
			perine = str(u, "id")
		}
	}
	const workers = 4
	var (
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	do := func(who, op string, vars map[string]any) map[string]any {
		t0 := time.Now()
		r, _, err := miDo(e.srv.URL, "", toks[who], contract, op, vars)
		d := time.Since(t0)
		if err != nil || len(r.Errors) > 0 {
			b.Errorf("%s: %v %+v", op, err, r.Errors)
			return nil
		}
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		return r.Data
	}
	cycle := func() {
		d := do(prescriber, "CreateRequest", map[string]any{"input": map[string]any{
			"originStructureId": structure, "urgency": "WITHIN_WEEK",
			"patient": map[string]any{"birthName": "Durand", "firstName": "Élise", "birthDate": "1948-03-12", "sex": "FEMALE"},
		}})
		id := str(d, "createAdmissionRequest.request.id")
		do(careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{
			"diagnosis": "Adénocarcinome pancréatique métastatique", "ppsScore": 30, "prognosis": "WEEKS",
			"patientInformedOfDiagnosis": "YES", "patientAgreesToUsp": true,
			"pallia10": []bool{true, true, true, false, false, true, false, false, false, false},
		}})
		do(careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{
			"stayGoal": "SYMPTOM_CONTROL", "dependence": "Aide totale pour la toilette"}})
		do(careTeam, "SaveAdminSocial", map[string]any{"requestId": id, "input": map[string]any{
			"address": "12 rue des Lilas", "postalCode": "75012", "city": "Paris", "personToNotify": "Fille"}})
		do(prescriber, "ValidateMedical", map[string]any{"requestId": id})
		sent := do(prescriber, "Send", map[string]any{"requestId": id, "unitIds": []string{perine}})
		dispatchID := str(sent, "sendAdmissionRequest.dispatches.0.id")
		do(perineDoctor, "OpenDispatch", map[string]any{"dispatchId": dispatchID})
		do(perineDoctor, "Answer", map[string]any{"dispatchId": dispatchID, "input": map[string]any{"decision": "ACCEPT"}})
		do(prescriber, "Confirm", map[string]any{"dispatchId": dispatchID})
	}
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		n := b.N / workers
		if w < b.N%workers {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				cycle()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "mutations/s")
	miQuantiles(b, "mutation", lat)
}
