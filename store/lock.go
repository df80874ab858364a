package store

import (
	"context"

	"entgo.io/ent/dialect"
)

// Lock keys of work that must run once across instances (PostgreSQL
// session-level advisory locks).
const (
	// DemoLoadLock serializes loading the demo data set (instances started
	// together with --demo).
	DemoLoadLock int64 = 0x70617373657264
)

// Exclusively runs fn while holding the advisory lock key on PostgreSQL, so
// that instances sharing the database run it one at a time; on SQLite (one
// process) it just runs fn.
func (d *DB) Exclusively(ctx context.Context, key int64, fn func() error) error {
	if d.Dialect != dialect.Postgres {
		return fn()
	}
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", key)
	return fn()
}
