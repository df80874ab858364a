package store

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
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
}

// errWriteWait is returned when the turn did not come within the wait.
var errWriteWait = errors.New("store: database is locked (waited for another write)")

func newWriteGate(d dialect.Driver, wait time.Duration) *writeGate {
	return &writeGate{Driver: d, raw: raw{d}, turn: make(chan struct{}, 1), wait: wait}
}

func (g *writeGate) acquire(ctx context.Context) error {
	select {
	case g.turn <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errWriteWait
	}
}

func (g *writeGate) release() {
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
