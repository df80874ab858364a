package workflow

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/ent/accesslog"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// logService is a workflow service on a fresh migrated database (no demo
// data: access-log rows have no foreign keys).
func logService(t testing.TB) (*Service, *store.DB) {
	t.Helper()
	db := storetest.Open(t, store.Config{})
	s := NewService(db.Client, nil, Config{})
	t.Cleanup(s.Close)
	return s, db
}

// reader is a signed-in context of a fresh user.
func reader() (context.Context, uuid.UUID) {
	id := uuid.New()
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: id}), id
}

func ids(n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = uuid.New()
	}
	return out
}

// logged returns the request ids of the user's medical-read rows, sorted.
func logged(t testing.TB, db *store.DB, user uuid.UUID) []uuid.UUID {
	t.Helper()
	rows, err := db.Client.AccessLog.Query().
		Where(accesslog.UserID(user), accesslog.KindEQ(AccessMedicalRead)).All(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		out[i] = r.RequestID
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}

func sorted(in []uuid.UUID) []uuid.UUID {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}

// gatedWrite wraps the logger's write: the first call waits for release,
// every call's rows are recorded, and fail decides a call's error.
type gatedWrite struct {
	entered, release chan struct{}
	mu               sync.Mutex
	batches          [][]accessRow
	fail             func(call int) error
}

func gate(l *accessLogger, fail func(call int) error) *gatedWrite {
	g := &gatedWrite{entered: make(chan struct{}), release: make(chan struct{}), fail: fail}
	write := l.write
	l.write = func(ctx context.Context, rows []accessRow) error {
		g.mu.Lock()
		g.batches = append(g.batches, slices.Clone(rows))
		call := len(g.batches)
		g.mu.Unlock()
		if call == 1 {
			close(g.entered)
			<-g.release
		}
		if g.fail != nil {
			if err := g.fail(call); err != nil {
				return err
			}
		}
		return write(ctx, rows)
	}
	return g
}

func (g *gatedWrite) calls() [][]accessRow {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.batches)
}

// queuedCallers reports the callers in the queue and those waiting for room.
func (l *accessLogger) queuedCallers() (queued, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue), l.waiting
}

func (l *accessLogger) isRunning() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}

// waitFor yields until cond holds; it gives up (a hang, not slowness)
// after a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}

func (l *accessLogger) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// TestAccessLogConcurrentCallers: every caller's rows are written, and the
// callers that queued while a batch was being written share one transaction.
func TestAccessLogConcurrentCallers(t *testing.T) {
	s, db := logService(t)
	g := gate(s.access, nil)
	first, firstUser := reader()
	firstIDs := ids(3)
	firstDone := make(chan error, 1)
	go func() { firstDone <- s.LogMedicalRead(first, firstIDs) }()
	<-g.entered // the writer holds the first batch

	const callers = 40
	users := make([]uuid.UUID, callers)
	want := make([][]uuid.UUID, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		ctx, u := reader()
		users[i], want[i] = u, ids(1+i%7)
		wg.Go(func() { errs[i] = s.LogMedicalRead(ctx, want[i]) })
	}
	waitFor(t, "callers queued", func() bool { n, _ := s.access.queuedCallers(); return n == callers })
	close(g.release)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	total := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if got := logged(t, db, users[i]); !slices.Equal(got, sorted(want[i])) {
			t.Fatalf("caller %d: rows for %v, want %v", i, got, sorted(want[i]))
		}
		total += len(want[i])
	}
	if got := logged(t, db, firstUser); !slices.Equal(got, sorted(firstIDs)) {
		t.Fatalf("first caller: rows for %v, want %v", got, sorted(firstIDs))
	}
	if c := g.calls(); len(c) != 2 || len(c[1]) != total {
		t.Fatalf("want 2 writes (the first caller, then the %d queued callers' %d rows together), got %d", callers, total, len(c))
	}
}

var errInjected = errors.New("injected write failure")

// TestAccessLogFailedBatch: a failed write fails every caller of its batch,
// and only them.
func TestAccessLogFailedBatch(t *testing.T) {
	s, db := logService(t)
	g := gate(s.access, func(call int) error {
		if call == 2 {
			return errInjected
		}
		return nil
	})
	first, firstUser := reader()
	firstDone := make(chan error, 1)
	go func() { firstDone <- s.LogMedicalRead(first, ids(2)) }()
	<-g.entered

	const callers = 5
	errs := make([]error, callers)
	users := make([]uuid.UUID, callers)
	var wg sync.WaitGroup
	for i := range callers {
		ctx, u := reader()
		users[i] = u
		wg.Go(func() { errs[i] = s.LogMedicalRead(ctx, ids(3)) })
	}
	waitFor(t, "callers queued", func() bool { n, _ := s.access.queuedCallers(); return n == callers })
	close(g.release)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatalf("the first batch: %v", err)
	}
	if n := len(logged(t, db, firstUser)); n != 2 {
		t.Fatalf("first caller: %d rows, want 2", n)
	}
	for i, err := range errs {
		if !errors.Is(err, errInjected) {
			t.Fatalf("caller %d of the failed batch got %v", i, err)
		}
		if n := len(logged(t, db, users[i])); n != 0 {
			t.Fatalf("caller %d of the failed batch: %d rows written", i, n)
		}
	}
	// The logger goes on after a failure.
	later, u := reader()
	if err := s.LogMedicalRead(later, ids(1)); err != nil || len(logged(t, db, u)) != 1 {
		t.Fatalf("after a failed batch: %v", err)
	}
}

// TestAccessLogCancelledCaller: a caller that stops waiting gets its
// context's error, its queued rows are still written, nothing deadlocks.
func TestAccessLogCancelledCaller(t *testing.T) {
	s, db := logService(t)
	g := gate(s.access, nil)
	first, _ := reader()
	firstDone := make(chan error, 1)
	go func() { firstDone <- s.LogMedicalRead(first, ids(1)) }()
	<-g.entered

	ctx, cancel := context.WithCancel(context.Background())
	base, user := reader()
	ctx = viewer.NewContext(ctx, viewer.FromContext(base))
	want := ids(4)
	done := make(chan error, 1)
	go func() { done <- s.LogMedicalRead(ctx, want) }()
	waitFor(t, "caller queued", func() bool { n, _ := s.access.queuedCallers(); return n == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled caller got %v", err)
	}
	close(g.release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	// A later caller is written after the cancelled one's batch.
	later, _ := reader()
	if err := s.LogMedicalRead(later, ids(1)); err != nil {
		t.Fatal(err)
	}
	if got := logged(t, db, user); !slices.Equal(got, sorted(want)) {
		t.Fatalf("the cancelled caller's queued rows: %v, want %v", got, sorted(want))
	}
}

// TestAccessLogQueueBound: callers beyond the bound wait for room; one
// that gives up queued nothing, one that waits gets through.
func TestAccessLogQueueBound(t *testing.T) {
	s, db := logService(t)
	s.access.queueRows = 4
	g := gate(s.access, nil)
	a, _ := reader()
	aDone := make(chan error, 1)
	go func() { aDone <- s.LogMedicalRead(a, ids(1)) }()
	<-g.entered

	b, bUser := reader()
	bDone := make(chan error, 1)
	go func() { bDone <- s.LogMedicalRead(b, ids(3)) }()
	waitFor(t, "caller queued", func() bool { n, _ := s.access.queuedCallers(); return n == 1 })

	// 3 queued + 2 > 4: c waits for room, then gives up.
	cctx, cancel := context.WithCancel(context.Background())
	cbase, cUser := reader()
	cctx = viewer.NewContext(cctx, viewer.FromContext(cbase))
	cDone := make(chan error, 1)
	go func() { cDone <- s.LogMedicalRead(cctx, ids(2)) }()
	waitFor(t, "caller waiting for room", func() bool { _, waiting := s.access.queuedCallers(); return waiting == 1 })
	if n, _ := s.access.queuedCallers(); n != 1 {
		t.Fatalf("%d callers queued beyond the bound", n)
	}
	cancel()
	if err := <-cDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller waiting for room and cancelled got %v", err)
	}

	d, dUser := reader()
	dDone := make(chan error, 1)
	go func() { dDone <- s.LogMedicalRead(d, ids(2)) }()
	waitFor(t, "caller waiting for room", func() bool { _, waiting := s.access.queuedCallers(); return waiting == 1 })
	close(g.release)
	for _, ch := range []chan error{aDone, bDone, dDone} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if nb, nc, nd := len(logged(t, db, bUser)), len(logged(t, db, cUser)), len(logged(t, db, dUser)); nb != 3 || nc != 0 || nd != 2 {
		t.Fatalf("rows: b %d (want 3), cancelled c %d (want 0), d %d (want 2)", nb, nc, nd)
	}
}

// TestAccessLogCloseFlushes: Close returns once every queued row is
// committed; afterwards callers write directly.
func TestAccessLogCloseFlushes(t *testing.T) {
	s, db := logService(t)
	g := gate(s.access, nil)
	first, firstUser := reader()
	firstDone := make(chan error, 1)
	go func() { firstDone <- s.LogMedicalRead(first, ids(2)) }()
	<-g.entered

	const callers = 6
	users := make([]uuid.UUID, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		ctx, u := reader()
		users[i] = u
		wg.Go(func() { errs[i] = s.LogMedicalRead(ctx, ids(5)) })
	}
	waitFor(t, "callers queued", func() bool { n, _ := s.access.queuedCallers(); return n == callers })
	// The writer is released only once Close has begun, and the rows are
	// checked as soon as Close returns, before the callers are heard from:
	// Close alone vouches for them.
	go func() {
		for !s.access.isClosed() {
			runtime.Gosched()
			time.Sleep(100 * time.Microsecond)
		}
		close(g.release)
	}()
	s.Close()
	if n, _ := s.access.queuedCallers(); n != 0 || s.access.isRunning() {
		t.Fatalf("Close returned with %d callers queued and the writer running: %v", n, s.access.isRunning())
	}
	if n := len(logged(t, db, firstUser)); n != 2 {
		t.Fatalf("after Close: first caller %d rows, want 2", n)
	}
	for i, u := range users {
		if n := len(logged(t, db, u)); n != 5 {
			t.Fatalf("after Close: caller %d has %d rows, want 5", i, n)
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	after, u := reader()
	if err := s.LogMedicalRead(after, ids(3)); err != nil || len(logged(t, db, u)) != 3 {
		t.Fatalf("a read after Close: %v, %d rows", err, len(logged(t, db, u)))
	}
	if s.access.isRunning() {
		t.Fatal("a writer goroutine runs after a direct write")
	}
	s.Close() // twice is harmless
}

// TestAccessLogChunks: a batch larger than one INSERT is written whole.
func TestAccessLogChunks(t *testing.T) {
	s, db := logService(t)
	ctx, u := reader()
	want := ids(2*accessChunkRows + 17)
	if err := s.LogMedicalRead(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got := logged(t, db, u); !slices.Equal(got, sorted(want)) {
		t.Fatalf("%d rows written, want %d", len(got), len(want))
	}
}

// BenchmarkMedicalReadLog compares, for N concurrent readers each logging
// a dashboard page (50 rows) per operation, one INSERT per reader
// ("direct": the former LogMedicalRead) with the group-commit logger.
func BenchmarkMedicalReadLog(b *testing.B) {
	for _, mode := range []string{"direct", "group"} {
		for _, readers := range []int{1, 8, 32, 128} {
			b.Run(fmt.Sprintf("%s/readers=%d", mode, readers), func(b *testing.B) {
				s, _ := logService(b)
				var writes atomic.Int64
				write := s.access.write
				s.access.write = func(ctx context.Context, rows []accessRow) error {
					writes.Add(1)
					return write(ctx, rows)
				}
				page := ids(50)
				var next atomic.Int64
				var failed atomic.Value
				b.ResetTimer()
				var wg sync.WaitGroup
				for range readers {
					ctx, u := reader()
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							var err error
							if mode == "direct" {
								now := s.now()
								rows := make([]accessRow, len(page))
								for i, id := range page {
									rows[i] = accessRow{user: u, request: id, kind: AccessMedicalRead, at: now}
								}
								writes.Add(1)
								err = s.writeAccessRows(ctx, rows)
							} else {
								err = s.LogMedicalRead(ctx, page)
							}
							if err != nil {
								failed.Store(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				if err, _ := failed.Load().(error); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/op")
			})
		}
	}
}
