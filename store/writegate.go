package store

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
)

// writeGate lets SQLite's writers in one at a time, in the order they
// arrive, and hands the turn to the next at once.
//
// SQLite has one writer; the others wait in its busy handler, which polls:
// it sleeps 1, 2, 5, 10, 15, 20, 25 … 100 ms between attempts, so under
// concurrent writes the lock sits free while every waiter sleeps, and the
// last ones wait the longest. Waiting on a Go channel instead wakes the next
// writer the moment the previous one commits. Transactions (BEGIN IMMEDIATE
// takes the write lock) hold the gate from before BEGIN to their commit or
// rollback — or to the end of their context, when database/sql rolls them
// back; single writing statements outside a transaction hold it while they
// run. Writes that do not come through ent (migrations) are not gated:
// SQLite's busy handler still serializes them.
type writeGate struct {
	dialect.Driver
	raw
	turn chan struct{} // holds a token while someone writes
	wait time.Duration // as long as the busy timeout of the DSN
	// written, when set, is called after each write (the background
	// checkpoints, checkpoint.go).
	written func()

	// What WriteGateStats reports: since is when the current turn was
	// taken (monotonic nanoseconds, gateClock; one turn at a time, so one
	// value).
	since                                     atomic.Int64
	turns, waits, timeouts, heldNanos, waited atomic.Int64
	waiting                                   atomic.Int64
}

// WriteGateStats counts the turns at SQLite's single writer since the
// database was opened. Held over the elapsed time is how busy the writer
// is: near 1, writes queue (Waiting, Waited) and the database, not the CPU,
// bounds how many changes a second the server can make — the point to move
// to PostgreSQL (README, "Running on PostgreSQL").
type WriteGateStats struct {
	Turns    int64         // turns taken: transactions, and writing statements outside one
	Held     time.Duration // time the turn was held, all turns together
	Waits    int64         // turns that had to wait for another writer
	Waited   time.Duration // time spent waiting for a turn, all waiters together
	Timeouts int64         // waits that gave up (errWriteWait)
	Waiting  int64         // writers waiting now
}

func (g *writeGate) stats() WriteGateStats {
	return WriteGateStats{Turns: g.turns.Load(), Held: time.Duration(g.heldNanos.Load()), Waits: g.waits.Load(),
		Waited: time.Duration(g.waited.Load()), Timeouts: g.timeouts.Load(), Waiting: g.waiting.Load()}
}

// errWriteWait is returned when the turn did not come within the wait.
var errWriteWait = errors.New("store: database is locked (waited for another write)")

func newWriteGate(d dialect.Driver, wait time.Duration) *writeGate {
	return &writeGate{Driver: d, raw: raw{d}, turn: make(chan struct{}, 1), wait: wait}
}

func (g *writeGate) acquire(ctx context.Context) error {
	select {
	case g.turn <- struct{}{}:
		g.taken(time.Now())
		return nil
	default:
	}
	start := time.Now()
	g.waits.Add(1)
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.turn <- struct{}{}:
		now := time.Now()
		g.waited.Add(int64(now.Sub(start)))
		g.taken(now)
		return nil
	case <-ctx.Done():
		g.waited.Add(int64(time.Since(start)))
		return ctx.Err()
	case <-t.C:
		g.waited.Add(int64(time.Since(start)))
		g.timeouts.Add(1)
		return errWriteWait
	}
}

// gateClock is the origin of the turns' monotonic times.
var gateClock = time.Now()

// taken records the start of a turn.
func (g *writeGate) taken(now time.Time) {
	g.turns.Add(1)
	g.since.Store(int64(now.Sub(gateClock)))
}

func (g *writeGate) release() {
	g.heldNanos.Add(int64(time.Since(gateClock)) - g.since.Load())
	<-g.turn
	if g.written != nil {
		g.written()
	}
}

// writes reports whether a statement changes data.
func writes(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 7 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "INSERT", "UPDATE", "DELETE":
		return true
	}
	return strings.EqualFold(q[:7], "REPLACE")
}

// inTurn runs a statement outside a transaction: a writing one in its turn.
func (g *writeGate) inTurn(ctx context.Context, query string, run func() error) error {
	if !writes(query) {
		return run()
	}
	if err := g.acquire(ctx); err != nil {
		return err
	}
	defer g.release()
	return run()
}

func (g *writeGate) Exec(ctx context.Context, query string, args, v any) error {
	return g.inTurn(ctx, query, func() error { return g.Driver.Exec(ctx, query, args, v) })
}

// Query gates INSERT … RETURNING and the like; the statement may finish
// after the gate is handed on (when its rows are read), in which case the
// next writer waits in SQLite's busy handler as before.
func (g *writeGate) Query(ctx context.Context, query string, args, v any) error {
	return g.inTurn(ctx, query, func() error { return g.Driver.Query(ctx, query, args, v) })
}

func (g *writeGate) Tx(ctx context.Context) (dialect.Tx, error) {
	return g.BeginTx(ctx, nil)
}

func (g *writeGate) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (dialect.Tx, error) {
	if err := g.acquire(ctx); err != nil {
		return nil, err
	}
	tx, err := beginTx(ctx, g.Driver, opts)
	if err != nil {
		g.release()
		return nil, fmt.Errorf("begin: %w", err)
	}
	gt := &gatedTx{Tx: tx, raw: raw{tx}}
	once := sync.Once{}
	gt.done = func() { once.Do(g.release) }
	gt.stop = context.AfterFunc(ctx, gt.done)
	return gt, nil
}

// gatedTx hands the turn on when it ends.
type gatedTx struct {
	dialect.Tx
	raw
	done func()
	stop func() bool
}

func (t *gatedTx) Commit() error {
	defer t.end()
	return t.Tx.Commit()
}

func (t *gatedTx) Rollback() error {
	defer t.end()
	return t.Tx.Rollback()
}

func (t *gatedTx) end() {
	t.stop()
	t.done()
}

// WriteGate returns the counts of the turns at SQLite's single writer, and
// false on PostgreSQL.
func (d *DB) WriteGate() (WriteGateStats, bool) {
	if d.gate == nil {
		return WriteGateStats{}, false
	}
	return d.gate.stats(), true
}
