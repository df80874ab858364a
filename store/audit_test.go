package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"passerelle/store"
)

func TestAuditDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		store.SQLiteDSN("/d/passerelle.db"): "file:/d/passerelle-audit.db?" + strings.SplitN(store.SQLiteDSN("/d/passerelle.db"), "?", 2)[1],
		"file:t1?mode=memory&cache=shared":  "file:t1-audit?mode=memory&cache=shared",
		"/d/x.sqlite":                       "/d/x-audit.sqlite",
		"/d/x.sqlite?_fk=1":                 "/d/x-audit.sqlite",
		":memory:":                          ":memory:",
	} {
		if got := store.AuditDSN(dsn); got != want {
			t.Errorf("AuditDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// column reads the first column of every row of query.
func column[T any](t *testing.T, db *store.DB, query string) []T {
	t.Helper()
	rows, err := db.SQL.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// objects lists the names of the tables and indexes of one attached schema
// that belong to the access log.
func objects(t *testing.T, db *store.DB, schema string) []string {
	t.Helper()
	return column[string](t, db, "SELECT name FROM "+schema+".sqlite_master WHERE tbl_name = 'access_logs' ORDER BY name")
}

// dataVersion is PRAGMA data_version of one schema on one connection: it
// changes when another connection commits to that file, which is when this
// connection's page cache for it is dropped.
func dataVersion(t *testing.T, c *sql.Conn, schema string) int64 {
	t.Helper()
	var v int64
	if err := c.QueryRowContext(context.Background(), "PRAGMA "+schema+".data_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAccessLogHasItsOwnFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "passerelle-audit.db")); err != nil {
		t.Fatalf("no access log file beside the database: %v", err)
	}
	if in := objects(t, db, "main"); len(in) != 0 {
		t.Errorf("the main file still has %v", in)
	}
	if in := objects(t, db, store.AuditSchema); !slices.Equal(in, []string{"access_logs", "accesslog_request_id_accessed_at"}) {
		t.Errorf("the access log's file has %v, want the table and its index", in)
	}

	// Another connection keeps its cache of the main file across an
	// access-log write, not across a write to the main file.
	other, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	q := other
	mainV, auditV := dataVersion(t, q, "main"), dataVersion(t, q, store.AuditSchema)
	write(t, db)
	if v := dataVersion(t, q, store.AuditSchema); v == auditV {
		t.Error("the access-log write did not reach the access log's file")
	}
	if v := dataVersion(t, q, "main"); v != mainV {
		t.Error("an access-log write changed the main file: other connections drop their page caches")
	}
	if _, err := db.SQL.Exec("CREATE TABLE main.scratch (x)"); err != nil {
		t.Fatal(err)
	}
	if v := dataVersion(t, q, "main"); v == mainV {
		t.Error("a write to the main file went unseen: the check above proves nothing")
	}
}

// A database whose access log is in the main file (migrated before it
// moved, or by a Migrate that stopped between its two steps, when the rows
// are in both files) is behind; Migrate moves every row once and drops the
// main file's table.
func TestMigrateMovesTheAccessLog(t *testing.T) {
	ctx := context.Background()
	db := openFile(t, -1)
	write(t, db)
	write(t, db) // ids 1 and 2, in the access log's file
	var ddl string
	if err := db.SQL.QueryRow("SELECT sql FROM " + store.AuditSchema + ".sqlite_master WHERE name = 'access_logs'").Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		strings.Replace(ddl, "CREATE TABLE ", "CREATE TABLE main.", 1),
		// id 2 is in both files; 3 and 4 only in main.
		"INSERT INTO main.access_logs SELECT * FROM " + store.AuditSchema + ".access_logs WHERE id = 2",
		"INSERT INTO main.access_logs (id, user_id, request_id, kind, accessed_at) VALUES " +
			"(3, '" + uuid.NewString() + "', '" + uuid.NewString() + "', 'DISPATCH_OPENED', '2026-01-02 03:04:05'), " +
			"(4, '" + uuid.NewString() + "', '" + uuid.NewString() + "', 'MEDICAL_SECTION_READ', '2026-01-02 03:04:06')",
	} {
		if _, err := db.SQL.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	st, err := db.CheckSchema(ctx)
	if !errors.Is(err, store.ErrSchemaBehind) || !st.AccessLogInMain || len(st.Pending) != 0 || !strings.Contains(err.Error(), "access log") {
		t.Fatalf("access log in the main file: %+v, %v; want behind, saying why", st, err)
	}
	if !strings.Contains(st.AccessLogChange(), "moved") {
		t.Errorf("what Migrate will do: %q", st.AccessLogChange())
	}
	if done, err := db.Migrate(ctx); err != nil || len(done) != 0 {
		t.Fatalf("Migrate: %v %v", done, err)
	}
	if in := objects(t, db, "main"); len(in) != 0 {
		t.Errorf("after Migrate the main file still has %v", in)
	}
	ids := func() []int64 {
		return column[int64](t, db, "SELECT id FROM "+store.AuditSchema+".access_logs ORDER BY id")
	}
	if got := ids(); !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("access log after the move: ids %v, want 1 to 4 once each", got)
	}
	// New rows go on after the moved ones, in the access log's file.
	write(t, db)
	if got := ids(); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("after one more reading: ids %v, want 1 to 5", got)
	}
	if st, err := db.CheckSchema(ctx); err != nil || st.Behind() {
		t.Errorf("after the move: %+v, %v", st, err)
	}
}

// A database restored without its access log's file is behind, says so, and
// Migrate starts an empty access log.
func TestAccessLogFileLost(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	write(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"passerelle-audit.db", "passerelle-audit.db-wal", "passerelle-audit.db-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if db, err = store.Open(ctx, store.Config{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.CheckSchema(ctx)
	if !errors.Is(err, store.ErrSchemaBehind) || !st.AccessLogMissing ||
		!strings.Contains(err.Error(), "passerelle-audit.db") || !strings.Contains(err.Error(), "passerelle migrate") {
		t.Fatalf("without the access log's file: %+v, %v; want behind, naming the file and the command", st, err)
	}
	if !strings.Contains(st.AccessLogChange(), "empty") {
		t.Errorf("what Migrate will do: %q", st.AccessLogChange())
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if in := objects(t, db, store.AuditSchema); !slices.Equal(in, []string{"access_logs", "accesslog_request_id_accessed_at"}) {
		t.Errorf("after Migrate the access log's file has %v", in)
	}
	if in := objects(t, db, "main"); len(in) != 0 {
		t.Errorf("after Migrate the main file has %v", in)
	}
	write(t, db)
	if st, err := db.CheckSchema(ctx); err != nil || st.Behind() {
		t.Errorf("after Migrate: %+v, %v", st, err)
	}
}

// A later migration written for one file reaches the access log where it
// is: an index created on it goes to the audit file once the table is there
// (an unqualified CREATE INDEX means main, where the table is not), and
// DROP INDEX finds the index there.
func TestMigrationsReachTheMovedAccessLog(t *testing.T) {
	ctx := context.Background()
	db := openFile(t, -1)
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := store.NewMigration("20991231000000", "access_log_by_kind",
		"CREATE INDEX `accesslog_kind` ON `access_logs` (`kind`)",
		"DROP INDEX `accesslog_request_id_accessed_at`")
	if ok, err := db.Apply(ctx, conn, m); err != nil || !ok {
		t.Fatalf("a migration of the access log's indexes: %v %v", ok, err)
	}
	if in := objects(t, db, store.AuditSchema); !slices.Equal(in, []string{"access_logs", "accesslog_kind"}) {
		t.Errorf("the access log's file has %v, want the table and the new index", in)
	}
	if in := objects(t, db, "main"); len(in) != 0 {
		t.Errorf("the main file has %v", in)
	}
	write(t, db)
}

// The access log's two copies may list their columns in other orders (a
// migration rebuilt the main file's table after the audit file's was made):
// the move copies by name, where `SELECT *` would put values in the wrong
// columns. A column the audit file's copy lacks stops the move, nothing
// lost.
func TestAccessLogMoveCopiesByName(t *testing.T) {
	ctx := context.Background()
	exec := func(db *store.DB, stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if _, err := db.SQL.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	u, r := uuid.NewString(), uuid.NewString()
	row := "INSERT INTO main.access_logs (id, user_id, request_id, kind, accessed_at) VALUES (7, '" + u + "', '" + r +
		"', 'DISPATCH_OPENED', '2026-01-02 03:04:05')"

	db := openFile(t, -1)
	write(t, db) // id 1, in the audit file
	exec(db, "CREATE TABLE main.access_logs (`kind` text NOT NULL, `accessed_at` datetime NOT NULL, "+
		"`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `request_id` uuid NOT NULL, `dispatch_id` uuid NULL, `user_id` uuid NOT NULL)", row)
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var kind, user, request string
	if err := db.SQL.QueryRow("SELECT kind, user_id, request_id FROM "+store.AuditSchema+".access_logs WHERE id = 7").
		Scan(&kind, &user, &request); err != nil {
		t.Fatal(err)
	}
	if kind != "DISPATCH_OPENED" || user != u || request != r {
		t.Errorf("moved row: kind %q user %q request %q, want DISPATCH_OPENED %s %s", kind, user, request, u, r)
	}

	db = openFile(t, -1)
	write(t, db)
	exec(db, "CREATE TABLE main.access_logs (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `user_id` uuid NOT NULL, "+
		"`request_id` uuid NOT NULL, `dispatch_id` uuid NULL, `kind` text NOT NULL, `accessed_at` datetime NOT NULL, `device` text NULL)", row)
	if _, err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "device") {
		t.Fatalf("Migrate with a column the audit file lacks: %v, want an error naming it", err)
	}
	if got := column[int64](t, db, "SELECT id FROM main.access_logs"); !slices.Equal(got, []int64{7}) {
		t.Errorf("after the refused move the main file's access log holds %v, want its row 7", got)
	}
}
