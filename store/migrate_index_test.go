package store_test

import (
	"context"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"passerelle/store"
	"passerelle/store/storetest"
)

// TestIndexOnlyMigrations: the migrations atlas wrote that only create or
// drop indexes are recognised as such (statements as atlas.MemDir gives
// them), the others are not.
func TestIndexOnlyMigrations(t *testing.T) {
	all, err := store.Migrations(dialect.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"init": false, "dashboard_indexes": true, "login_throttles": false, "units_structure_kind": true}
	seen := 0
	for _, m := range all {
		w, ok := want[m.Description]
		if !ok {
			continue
		}
		seen++
		if got := store.IndexOnly(m); got != w {
			t.Errorf("%s: index only %v, want %v:\n%s", m, got, w, strings.Join(store.Statements(m), "\n"))
		}
	}
	if seen != len(want) {
		t.Errorf("%d of the %d migrations found", seen, len(want))
	}
}

// TestApplyIndexesConcurrently: on PostgreSQL an index-only migration is
// applied outside a transaction (CREATE INDEX CONCURRENTLY refuses to run
// in one), replacement indexes are built before the old ones are dropped,
// and a build that fails leaves neither an invalid index nor a record.
func TestApplyIndexesConcurrently(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("PostgreSQL tests skipped: set PASSERELLE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DatabaseURL: storetest.DatabaseURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil { // the real index-only migrations go this way too
		t.Fatal(err)
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	indexes := func() map[string]bool { // name → valid
		t.Helper()
		rows, err := conn.QueryContext(ctx, `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = 'probe'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var name string
			var valid bool
			if err := rows.Scan(&name, &valid); err != nil {
				t.Fatal(err)
			}
			out[name] = valid
		}
		return out
	}
	recorded := func(version string) bool {
		t.Helper()
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+store.MigrationsTable+" WHERE version = $1", version).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	exec(`CREATE TABLE probe (a int, b int)`)
	exec(`INSERT INTO probe VALUES (1, 1), (1, 2)`)
	exec(`CREATE INDEX "probe_a" ON probe (a)`)

	unique := store.NewMigration("99990101000001", "probe_unique",
		`CREATE UNIQUE INDEX "probe_a_unique" ON "probe" ("a")`)
	if !store.IndexOnly(unique) {
		t.Fatal("not taken for an index-only migration")
	}
	if ok, err := db.Apply(ctx, conn, unique); ok || err == nil {
		t.Fatalf("a unique index over duplicates: applied %v, %v", ok, err)
	}
	if got := indexes(); len(got) != 1 || !got["probe_a"] {
		t.Errorf("after the failed build: %v, want only probe_a", got)
	}
	if recorded(unique.Version) {
		t.Error("the failed migration is recorded")
	}
	exec(`DELETE FROM probe WHERE b = 2`)
	if ok, err := db.Apply(ctx, conn, unique); !ok || err != nil {
		t.Fatalf("once the data allow it: applied %v, %v", ok, err)
	}
	if got := indexes(); !got["probe_a_unique"] || !recorded(unique.Version) {
		t.Errorf("after the migration: %v, recorded %v", got, recorded(unique.Version))
	}
	if ok, err := db.Apply(ctx, conn, unique); ok || err != nil {
		t.Errorf("applied twice: %v, %v", ok, err)
	}

	// A replacement: atlas writes the drop first; the new index is built
	// before the old one goes.
	replace := store.NewMigration("99990101000002", "probe_replace",
		`DROP INDEX "probe_a"`,
		`CREATE INDEX "probe_a_b" ON "probe" ("a", "b")`)
	if ok, err := db.Apply(ctx, conn, replace); !ok || err != nil {
		t.Fatalf("replacement: applied %v, %v", ok, err)
	}
	if got := indexes(); got["probe_a"] || !got["probe_a_b"] {
		t.Errorf("after the replacement: %v", got)
	}

	// An invalid index left by a build interrupted in an earlier run (here
	// a concurrent build over duplicates, outside this package) is dropped
	// and built again, not skipped by IF NOT EXISTS and recorded invalid.
	exec(`INSERT INTO probe VALUES (2, 1)`)
	if _, err := conn.ExecContext(ctx, `CREATE UNIQUE INDEX CONCURRENTLY "probe_left" ON probe (b)`); err == nil {
		t.Fatal("a unique build over duplicates succeeded")
	}
	if valid, present := indexes()["probe_left"]; !present || valid {
		t.Fatalf("the interrupted build left no invalid index to test with (present %v, valid %v)", present, valid)
	}
	exec(`DELETE FROM probe WHERE a = 2`)
	left := store.NewMigration("99990101000003", "probe_left",
		`CREATE UNIQUE INDEX "probe_left" ON "probe" ("b")`)
	if ok, err := db.Apply(ctx, conn, left); !ok || err != nil {
		t.Fatalf("over a leftover invalid index: applied %v, %v", ok, err)
	}
	if got := indexes(); !got["probe_left"] {
		t.Errorf("the leftover index was not rebuilt valid: %v", got)
	}
}
