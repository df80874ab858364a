package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
)

// checkInstances runs S1's inbox once on every instance: each must serve
// the same total as the first.
func (t *target) checkInstances(ctx context.Context) error {
	var want int
	for i, u := range t.urls() {
		var inbox struct{ Inbox struct{ TotalCount int } }
		if err := t.gqlAt(ctx, u, t.receiver.token, inboxDoc, "Inbox", map[string]any{"unitId": t.unitID, "first": pageSize}, &inbox); err != nil {
			return fmt.Errorf("instance %d: %w", i+1, err)
		}
		if i == 0 {
			want = inbox.Inbox.TotalCount
		} else if inbox.Inbox.TotalCount != want {
			return fmt.Errorf("instance %d counts %d dispatches in the inbox, instance 1 %d", i+1, inbox.Inbox.TotalCount, want)
		}
	}
	return nil
}

// printConnections lists the database's connections by application name:
// what each instance holds (pool and event listener) at the end of a run.
func (t *target) printConnections(ctx context.Context) {
	rows, err := t.app.DB.SQL.QueryContext(ctx, `SELECT coalesce(nullif(application_name, ''), '(none: instance 1 and the baselines)'), state, count(*)
		FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'
		GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var name, state string
		var n int
		if rows.Scan(&name, &state, &n) == nil {
			parts = append(parts, fmt.Sprintf("%s %s: %d", name, state, n))
		}
	}
	fmt.Printf("PostgreSQL connections to the database at the end: %s\n", strings.Join(parts, "; "))
}

// heapInUse is the Go heap in use after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// schemaVersion lists the migrations applied to the database under test
// (the tool never migrates: app.New refuses a schema that is behind).
func schemaVersion(ctx context.Context, t *target) string {
	rows, err := t.app.DB.SQL.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	defer rows.Close()
	var vs []string
	for rows.Next() {
		var v string
		if rows.Scan(&v) == nil {
			vs = append(vs, v)
		}
	}
	return strings.Join(vs, ", ")
}
