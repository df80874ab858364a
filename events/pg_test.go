package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"passerelle/ent"
	"passerelle/events"
	"passerelle/store/storetest"
)

// table is an in-memory events table: commit makes rows visible.
type table struct {
	mu    sync.Mutex
	rows  []*ent.Event // committed, in id order
	reads int
	fail  bool
}

func (t *table) commit(ids ...int64) []*ent.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	var evs []*ent.Event
	for _, id := range ids {
		e := &ent.Event{ID: id}
		t.rows = append(t.rows, e)
		evs = append(evs, e)
	}
	slices.SortFunc(t.rows, func(a, b *ent.Event) int { return int(a.ID - b.ID) })
	return evs
}

func (t *table) After(_ context.Context, after int64, limit int) ([]*ent.Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reads++
	if t.fail {
		return nil, fmt.Errorf("database unreachable")
	}
	var out []*ent.Event
	for _, e := range t.rows {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (t *table) Head(context.Context) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.rows) == 0 {
		return 0, nil
	}
	return t.rows[len(t.rows)-1].ID, nil
}

// collect reads ids from a subscription until want ids arrived or the
// deadline passed, then checks nothing more arrives shortly after.
func collect(t *testing.T, s *events.Subscription, want int) []int64 {
	t.Helper()
	var got []int64
	deadline := time.After(5 * time.Second)
	for len(got) < want {
		select {
		case <-s.Ready():
			for _, e := range s.Take() {
				got = append(got, e.ID)
			}
		case <-deadline:
			t.Fatalf("got %v, want %d events", got, want)
		}
	}
	if len(got) > want {
		t.Fatalf("got %v, want %d events", got, want)
	}
	select {
	case <-s.Ready():
		t.Fatalf("unexpected extra events %v after %v", s.Take(), got)
	case <-time.After(50 * time.Millisecond):
	}
	return got
}

func seq(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func newRelay(t *testing.T, src events.Source) (*events.Relay, *events.Subscription) {
	t.Helper()
	b := events.NewBroker(1024)
	r := events.NewRelay(b, src, events.RelayConfig{RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond, Batch: 3})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, b.Subscribe()
}

// A gap-free local publish is delivered as is, at once, without reading
// the table.
func TestRelayFastPath(t *testing.T) {
	tb := &table{}
	tb.commit(1, 2)
	r, sub := newRelay(t, tb)
	for id := int64(3); id <= 6; id++ {
		r.Publish(tb.commit(id))
		// Delivered before Publish returned: a writer's response never
		// overtakes its own event.
		if n := sub.Len(); n != int(id-2) {
			t.Fatalf("%d events queued after publishing %d", n, id)
		}
	}
	if got := collect(t, sub, 4); !slices.Equal(got, seq(3, 6)) {
		t.Fatalf("got %v", got)
	}
	if r.Reads() != 0 {
		t.Errorf("%d reads for gap-free local events", r.Reads())
	}
}

// Two writers racing between commit and publish: the later id published
// first makes the relay read the earlier one; the late publish is ignored.
func TestRelayLatePublish(t *testing.T) {
	tb := &table{}
	r, sub := newRelay(t, tb)
	a := tb.commit(1)
	b := tb.commit(2)
	r.Publish(b)
	if got := collect(t, sub, 2); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("got %v", got)
	}
	r.Publish(a)
	r.Publish(b)
	r.Notify(2)
	collect(t, sub, 0)
}

// Notifications from other instances (ids never published here), gaps from
// rolled-back transactions and a backlog longer than a batch: everything
// once, in order.
func TestRelayNotifyAndCatchUp(t *testing.T) {
	tb := &table{}
	r, sub := newRelay(t, tb)
	tb.commit(1, 2, 4, 5) // 3 rolled back
	r.Notify(5)
	if got := collect(t, sub, 4); !slices.Equal(got, []int64{1, 2, 4, 5}) {
		t.Fatalf("got %v", got)
	}
	r.Publish(tb.commit(6)) // local, gap-free
	tb.commit(seq(7, 20)...)
	r.CatchUp() // listener reconnected
	if got := collect(t, sub, 15); !slices.Equal(got, seq(6, 20)) {
		t.Fatalf("got %v", got)
	}
	r.Notify(12) // stale notification
	collect(t, sub, 0)
}

// A failed read is retried: nothing is skipped.
func TestRelayRetriesReads(t *testing.T) {
	tb := &table{}
	r, sub := newRelay(t, tb)
	tb.mu.Lock()
	tb.fail = true
	tb.mu.Unlock()
	tb.commit(1, 2)
	r.Notify(2)
	time.Sleep(30 * time.Millisecond)
	tb.mu.Lock()
	tb.fail = false
	tb.mu.Unlock()
	if got := collect(t, sub, 2); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("got %v", got)
	}
}

// pgServer returns a fresh PostgreSQL database for t, or skips.
func pgServer(t testing.TB) (string, *sql.DB) {
	t.Helper()
	if storetest.PostgresURL() == "" {
		if os.Getenv("PASSERELLE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PostgreSQL required (PASSERELLE_REQUIRE_POSTGRES=1) but PASSERELLE_TEST_POSTGRES is not set")
		}
		t.Skip("PostgreSQL tests skipped: set PASSERELLE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	url := storetest.DatabaseURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return url, db
}

func notify(t *testing.T, db *sql.DB, payload string) {
	t.Helper()
	if _, err := db.Exec("SELECT pg_notify($1, $2)", events.Channel, payload); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The listener relays notifications; when its connection is killed it
// reports not ready, reconnects with backoff and reads what was committed
// meanwhile (whose notifications were lost).
func TestListenerReconnectsAndCatchesUp(t *testing.T) {
	url, db := pgServer(t)
	tb := &table{}
	r, sub := newRelay(t, tb)
	app := fmt.Sprintf("passerelle-listener-test-%d", time.Now().UnixNano())
	l := events.NewListener(url, r, events.ListenerConfig{
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond, ApplicationName: app,
	})
	l.Start()
	t.Cleanup(l.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	tb.commit(1, 2)
	notify(t, db, "2")
	if got := collect(t, sub, 2); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("got %v", got)
	}

	// Kill the listener's connection and commit while it is away.
	var killed int
	if err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listener connections, want 1", killed)
	}
	tb.commit(3, 4, 5)
	notify(t, db, "5") // probably lost: nobody listens
	waitFor(t, "reconnection", func() bool { return l.Connections() >= 2 && l.Ready(ctx) == nil })
	if got := collect(t, sub, 3); !slices.Equal(got, []int64{3, 4, 5}) {
		t.Fatalf("got %v", got)
	}
	tb.commit(6)
	notify(t, db, "6")
	if got := collect(t, sub, 1); !slices.Equal(got, []int64{6}) {
		t.Fatalf("got %v", got)
	}
}

// Ready fails before the listener listens, while it cannot connect, and
// after Close.
func TestListenerReadiness(t *testing.T) {
	url, _ := pgServer(t)
	r, _ := newRelay(t, &table{})
	l := events.NewListener(url, r, events.ListenerConfig{BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Ready(ctx); err == nil {
		t.Fatal("ready before start")
	}
	l.Start()
	defer l.Close()
	if err := l.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := l.Ready(ctx); err == nil {
		t.Fatal("ready after close")
	}

	bad := events.NewListener("postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", r,
		events.ListenerConfig{BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	bad.Start()
	defer bad.Close()
	time.Sleep(200 * time.Millisecond)
	if err := bad.Ready(ctx); err == nil {
		t.Fatal("a listener that cannot connect says it is ready")
	} else {
		t.Logf("not ready: %v", err)
	}
}

// A quiet connection is checked (ping) and kept, not reconnected.
func TestListenerQuietConnectionIsKept(t *testing.T) {
	url, db := pgServer(t)
	tb := &table{}
	r, sub := newRelay(t, tb)
	l := events.NewListener(url, r, events.ListenerConfig{CheckInterval: 20 * time.Millisecond})
	l.Start()
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := l.Connections(); n != 1 {
		t.Fatalf("%d connections after a quiet period, want 1", n)
	}
	tb.commit(1)
	notify(t, db, "1")
	if got := collect(t, sub, 1); !slices.Equal(got, []int64{1}) {
		t.Fatalf("got %v", got)
	}
}
