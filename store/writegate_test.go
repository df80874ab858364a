package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

func TestWrites(t *testing.T) {
	for q, want := range map[string]bool{
		"INSERT INTO `t` (`a`) VALUES (?)":              true,
		"  update `t` SET `a` = ?":                      true,
		"DELETE FROM `t`":                               true,
		"REPLACE INTO `t` VALUES (1)":                   true,
		"SELECT `t`.`a` FROM `t`":                       false,
		"SELECT COUNT(*) FROM `t` WHERE `a` = 'INSERT'": false,
		"WITH x AS (SELECT 1) SELECT * FROM x":          false,
		"":                                              false,
	} {
		if got := writes(q); got != want {
			t.Errorf("writes(%q) = %v, want %v", q, got, want)
		}
	}
}

// gateOn opens a SQLite file with a table and returns a gate over it that
// waits at most wait for its turn.
func gateOn(t *testing.T, wait time.Duration) *writeGate {
	t.Helper()
	db, err := sql.Open("sqlite3", SQLiteDSN(filepath.Join(t.TempDir(), "gate.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE TABLE t (a INTEGER)"); err != nil {
		t.Fatal(err)
	}
	return newWriteGate(entsql.OpenDB(dialect.SQLite, db), wait)
}

func TestWriteGate(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	g := gateOn(t, 20*time.Millisecond)

	tx, err := g.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Exec(ctx, "INSERT INTO t (a) VALUES (1)", []any{}, nil); err != nil {
		t.Fatal(err)
	}
	// While the transaction is open, no other write gets its turn: another
	// transaction, a writing statement outside one.
	if _, err := g.Tx(ctx); !errors.Is(err, errWriteWait) {
		t.Fatalf("a second transaction began beside the first: %v", err)
	}
	if _, err := g.Tx(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("a transaction waiting for its turn must stop with its context: %v", err)
	}
	if err := g.Exec(ctx, "INSERT INTO t (a) VALUES (2)", []any{}, nil); !errors.Is(err, errWriteWait) {
		t.Fatalf("a write ran beside the transaction: %v", err)
	}
	// Reads are not gated.
	var rows entsql.Rows
	if err := g.Query(ctx, "SELECT count(*) FROM t", []any{}, &rows); err != nil {
		t.Fatalf("a read waited for the writer: %v", err)
	}
	rows.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// The commit handed the turn on.
	if err := g.Exec(ctx, "INSERT INTO t (a) VALUES (3)", []any{}, nil); err != nil {
		t.Fatalf("after the commit: %v", err)
	}

	// A rollback hands it on too, and so does the end of the transaction's
	// context (database/sql rolls the transaction back then).
	tx, err = g.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	txCtx, end := context.WithCancel(ctx)
	if _, err = g.Tx(txCtx); err != nil {
		t.Fatal(err)
	}
	end()
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	slow := newWriteGate(g.Driver, 10*time.Second)
	slow.turn = g.turn
	if err := slow.acquire(wait); err != nil {
		t.Fatalf("the turn of a transaction whose context ended was not handed on: %v", err)
	}
	slow.release()
}

func TestWriteGateOrder(t *testing.T) {
	ctx := context.Background()
	g := gateOn(t, 10*time.Second)
	tx, err := g.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Writers queued behind the transaction run after it, each alone: the
	// table ends with every row, none lost to "database is locked".
	done := make(chan error)
	for i := range 20 {
		go func() { done <- g.Exec(ctx, "INSERT INTO t (a) VALUES (?)", []any{i}, nil) }()
	}
	if err := tx.Exec(ctx, "INSERT INTO t (a) VALUES (-1)", []any{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	var rows entsql.Rows
	if err := g.Query(ctx, "SELECT count(*) FROM t", []any{}, &rows); err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if n != 21 {
		t.Fatalf("%d rows, want 21", n)
	}
}

// TestWriteGateStats: every turn is counted, with the writers that had to
// wait for one (and are waiting now) and those that gave up.
func TestWriteGateStats(t *testing.T) {
	ctx := context.Background()
	g := gateOn(t, 10*time.Second)
	if st := g.stats(); st != (WriteGateStats{}) {
		t.Fatalf("a new gate: %+v", st)
	}
	tx, err := g.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- g.Exec(ctx, "INSERT INTO t (a) VALUES (1)", []any{}, nil) }()
	for g.stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	impatient := newWriteGate(g.Driver, time.Millisecond)
	impatient.turn = g.turn
	if err := impatient.acquire(ctx); !errors.Is(err, errWriteWait) {
		t.Fatalf("a writer that cannot wait: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Reads take no turn.
	var rows entsql.Rows
	if err := g.Query(ctx, "SELECT count(*) FROM t", []any{}, &rows); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	st := g.stats()
	if st.Turns != 2 || st.Waits != 1 || st.Waiting != 0 || st.Timeouts != 0 || st.Held <= 0 || st.Waited <= 0 {
		t.Fatalf("after a transaction and a write that waited for it: %+v", st)
	}
	if is := impatient.stats(); is.Turns != 0 || is.Waits != 1 || is.Timeouts != 1 || is.Waiting != 0 {
		t.Fatalf("the writer that gave up: %+v", is)
	}
}
