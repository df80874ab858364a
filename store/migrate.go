package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entschema "entgo.io/ent/dialect/sql/schema"

	"ariga.io/atlas/sql/postgres"
	atlasschema "ariga.io/atlas/sql/schema"

	entmigrate "passerelle/ent/migrate"
)

//go:generate go run ./migrations/gen.go

// Versioned migrations, generated from the ent schema by
// migrations/gen.go (go generate ./store) and committed: one directory per
// engine, each with its atlas.sum.
//
//go:embed migrations/sqlite/*.sql migrations/sqlite/atlas.sum migrations/postgres/*.sql migrations/postgres/atlas.sum
var migrationFiles embed.FS

// MigrationsTable records the migrations applied to a database.
const MigrationsTable = "schema_migrations"

// migrationLockKey serializes migrations of one PostgreSQL database
// (several instances started with --migrate at once).
const migrationLockKey int64 = 0x7061737365726d

// Migration is one versioned migration file.
type Migration struct {
	Version     string // e.g. 20261125193000
	Description string // e.g. init
	stmts       []string
}

// String is "version_description".
func (m Migration) String() string { return m.Version + "_" + m.Description }

// Migrations returns the migrations of an engine (dialect.SQLite or
// dialect.Postgres), oldest first, after checking them against atlas.sum.
func Migrations(dial string) ([]Migration, error) {
	dir, err := MigrationDir(dial)
	if err != nil {
		return nil, err
	}
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	out := make([]Migration, 0, len(files))
	for _, f := range files {
		stmts, err := f.Stmts()
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", f.Name(), err)
		}
		out = append(out, Migration{Version: f.Version(), Description: f.Desc(), stmts: stmts})
	}
	return out, nil
}

// MigrationDir returns the embedded migration directory of an engine,
// validated against its atlas.sum.
func MigrationDir(dial string) (*migrate.MemDir, error) {
	sub := map[string]string{dialect.SQLite: "sqlite", dialect.Postgres: "postgres"}[dial]
	if sub == "" {
		return nil, fmt.Errorf("no migrations for dialect %q", dial)
	}
	root := path.Join("migrations", sub)
	entries, err := fs.ReadDir(migrationFiles, root)
	if err != nil {
		return nil, err
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		b, err := migrationFiles.ReadFile(path.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	if err := migrate.Validate(dir); err != nil {
		return nil, fmt.Errorf("migrations/%s do not match their atlas.sum (edited by hand? regenerate with go generate ./store): %w", sub, err)
	}
	return dir, nil
}

// SchemaStatus compares a database with the migrations this program holds.
type SchemaStatus struct {
	Applied []string // versions recorded in the database
	Pending []Migration
	// Unknown are versions the database has and this program does not
	// (a newer program migrated it).
	Unknown []string
	// Empty: the database holds none of the application's tables.
	Empty bool
	// Unversioned: the application's tables exist but no migration was
	// ever recorded (a database created by the former automatic migration).
	Unversioned bool
	// AccessLogInMain: SQLite, the access log is still in the main file
	// (Migrate moves it to its own, audit.go).
	AccessLogInMain bool
	// AccessLogMissing: SQLite, the main file is migrated but neither file
	// has the access log (its file was lost, or not restored with the main
	// one); Migrate starts an empty one.
	AccessLogMissing bool
}

// AccessLogChange says what Migrate does to the access log of a database in
// this state ("" when nothing), for the logs of the commands that migrate.
func (s SchemaStatus) AccessLogChange() string {
	switch {
	case s.AccessLogInMain:
		return "moved the access log to its own file"
	case s.AccessLogMissing:
		return "started an empty access log: its file was missing"
	}
	return ""
}

// Behind reports whether migrations are pending.
func (s SchemaStatus) Behind() bool {
	return len(s.Pending) > 0 || s.AccessLogInMain || s.AccessLogMissing
}

// ErrSchemaBehind is returned by CheckSchema when migrations are pending.
var ErrSchemaBehind = errors.New("database schema is behind")

// CheckSchema returns nil when the database is up to date (or only ahead),
// an error wrapping ErrSchemaBehind that names the command to run when
// migrations are pending.
func (d *DB) CheckSchema(ctx context.Context) (SchemaStatus, error) {
	st, err := d.SchemaStatus(ctx)
	if err != nil {
		return st, err
	}
	if st.Behind() {
		names := make([]string, len(st.Pending))
		for i, m := range st.Pending {
			names[i] = m.String()
		}
		what := fmt.Sprintf("%d migration(s) pending: %s", len(names), strings.Join(names, ", "))
		if st.Unversioned {
			what = "the schema predates versioned migrations"
		} else if st.AccessLogMissing && len(names) == 0 {
			return st, fmt.Errorf("%w: %s has no access log (the file of the access log, %s, is missing or was not restored with the database): "+
				"put it back beside the database, or run \"passerelle migrate\" with the same database flags to start an empty access log",
				ErrSchemaBehind, d.Where, d.AuditFile())
		} else if len(names) == 0 {
			what = "the access log is still in the main file; it moves to a file of its own, " + d.AuditFile()
		}
		return st, fmt.Errorf("%w (%s) on %s: run \"passerelle migrate\" with the same database flags, or start with \"passerelle serve --migrate\"",
			ErrSchemaBehind, what, d.Where)
	}
	return st, nil
}

// SchemaStatus reads which migrations the database has.
func (d *DB) SchemaStatus(ctx context.Context) (SchemaStatus, error) {
	all, err := Migrations(d.Dialect)
	if err != nil {
		return SchemaStatus{}, err
	}
	var st SchemaStatus
	has, err := d.hasTable(ctx, d.SQL, MigrationsTable)
	if err != nil {
		return st, err
	}
	if has {
		if st.Applied, err = appliedVersions(ctx, d.SQL); err != nil {
			return st, err
		}
	}
	if len(st.Applied) == 0 {
		n, err := d.appTables(ctx, d.SQL)
		if err != nil {
			return st, err
		}
		st.Empty, st.Unversioned = n == 0, n > 0
	}
	for _, m := range all {
		if !slices.Contains(st.Applied, m.Version) {
			st.Pending = append(st.Pending, m)
		}
	}
	for _, v := range st.Applied {
		if !slices.ContainsFunc(all, func(m Migration) bool { return m.Version == v }) {
			st.Unknown = append(st.Unknown, v)
		}
	}
	if !st.Empty {
		if st.AccessLogInMain, err = d.accessLogInMain(ctx, d.SQL); err != nil {
			return st, err
		}
		if len(st.Pending) == 0 {
			if st.AccessLogMissing, err = d.accessLogMissing(ctx, d.SQL); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// Migrate applies the pending migrations, each in its own transaction, and
// returns those it applied. A database created before versioned migrations
// (by ent's automatic migration) is adopted when its schema matches the ent
// schema exactly: the migrations are recorded without being run.
func (d *DB) Migrate(ctx context.Context) ([]Migration, error) {
	// A database without recorded migrations but with tables is compared
	// with the ent schema first (that needs pooled connections of its own).
	var drift []string
	st, err := d.SchemaStatus(ctx)
	if err != nil {
		return nil, err
	}
	if st.Unversioned {
		if drift, err = d.SchemaDiff(ctx); err != nil {
			return nil, err
		}
	}
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	done, err := d.migrate(ctx, conn, st, drift)
	if err != nil {
		return done, err
	}
	// SQLite: then the access log goes to its own file.
	return done, d.placeAccessLog(ctx, conn)
}

func (d *DB) migrate(ctx context.Context, conn *sql.Conn, st SchemaStatus, drift []string) ([]Migration, error) {
	all, err := Migrations(d.Dialect)
	if err != nil {
		return nil, err
	}
	if d.Dialect == dialect.Postgres {
		if err := lockMigrations(ctx, conn); err != nil {
			return nil, err
		}
		defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockKey)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+MigrationsTable+
		" (version varchar(64) NOT NULL PRIMARY KEY, description varchar(255) NOT NULL, applied_at varchar(64) NOT NULL)"); err != nil {
		return nil, fmt.Errorf("creating %s: %w", MigrationsTable, err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
	}
	if len(applied) == 0 {
		n, err := d.appTables(ctx, conn)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			if !st.Unversioned {
				return nil, errors.New("tables appeared while migrating (another program?): run the migration again")
			}
			return d.adopt(ctx, conn, all, drift)
		}
	}
	var done []Migration
	for _, m := range all {
		if slices.Contains(applied, m.Version) {
			continue
		}
		ok, err := d.apply(ctx, conn, m)
		if err != nil {
			return done, fmt.Errorf("migration %s: %w", m, err)
		}
		if ok {
			done = append(done, m)
		}
	}
	return done, nil
}

// lockMigrations takes the migration lock of a PostgreSQL database,
// trying again every so often rather than waiting inside one statement: a
// statement blocked on the lock keeps its snapshot, and CREATE INDEX
// CONCURRENTLY, run by the migrator holding the lock (applyIndexes), waits
// for every older snapshot to go — the two would wait for each other.
func lockMigrations(ctx context.Context, conn *sql.Conn) error {
	pause := 50 * time.Millisecond
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", migrationLockKey).Scan(&got); err != nil {
			return err
		}
		if got {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

var fkPragma = regexp.MustCompile(`(?i)^\s*PRAGMA\s+foreign_keys\s*=`)

// apply runs one migration and records it, in one transaction. It reports
// false when another process applied it meanwhile (SQLite: the check is
// repeated inside the write transaction).
func (d *DB) apply(ctx context.Context, conn *sql.Conn, m Migration) (bool, error) {
	stmts := m.stmts
	if d.Dialect == dialect.Postgres && indexOnly(stmts) {
		return d.applyIndexes(ctx, conn, m)
	}
	if d.Dialect == dialect.SQLite {
		// SQLite ignores PRAGMA foreign_keys inside a transaction: table
		// rebuilds generated by atlas switch enforcement off around them.
		// Do it outside, and check the keys before committing.
		var inner []string
		off := false
		for _, s := range stmts {
			if fkPragma.MatchString(s) {
				off = true
				continue
			}
			inner = append(inner, s)
		}
		stmts = inner
		if off {
			if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = off"); err != nil {
				return false, err
			}
			defer conn.ExecContext(context.Background(), "PRAGMA foreign_keys = on")
			stmts = append(stmts, "PRAGMA foreign_key_check")
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if done, err := d.applied(ctx, tx, m); done || err != nil {
		return false, err
	}
	for _, s := range stmts {
		if strings.EqualFold(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";")), "PRAGMA foreign_key_check") {
			rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
			if err != nil {
				return false, err
			}
			bad := rows.Next()
			rows.Close()
			if bad {
				return false, errors.New("foreign key violations after the migration")
			}
			continue
		}
		if s, err = d.inAuditFile(ctx, tx, s); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return false, fmt.Errorf("%w\nin statement:\n%s", err, s)
		}
	}
	if err := d.record(ctx, tx, m); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// PostgreSQL builds an index inside a transaction with a lock that stops
// every write to its table until the build ends: seconds to minutes on the
// events or dispatches of a year, during which every instance's mutations
// wait. A migration made only of index creations and drops (the ones the
// performance work adds) is therefore applied outside a transaction, each
// statement CONCURRENTLY, which lets writes go on; the migration is
// recorded once they all succeeded. Migrate holds the advisory lock, so no
// other migrator runs meanwhile.
var (
	createIndexStmt = regexp.MustCompile(`(?is)^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+("[^"]+")\s+ON\s+(.+?)\s*;?\s*$`)
	dropIndexStmt   = regexp.MustCompile(`(?is)^\s*DROP\s+INDEX\s+("[^"]+")\s*;?\s*$`)
)

// indexOnly reports whether a migration only creates and drops indexes.
func indexOnly(stmts []string) bool {
	for _, s := range stmts {
		if !createIndexStmt.MatchString(s) && !dropIndexStmt.MatchString(s) {
			return false
		}
	}
	return len(stmts) > 0
}

// applyIndexes applies an index-only migration on PostgreSQL, each
// statement concurrently. New indexes are built before the ones they
// replace are dropped (when their names differ), so that queries are never
// left without either. A build that fails leaves an invalid index behind:
// it is dropped, here and before any later attempt.
func (d *DB) applyIndexes(ctx context.Context, conn *sql.Conn, m Migration) (bool, error) {
	if done, err := d.applied(ctx, conn, m); done || err != nil {
		return false, err
	}
	var creates, drops []string
	created := map[string]bool{}
	for _, s := range m.stmts {
		if g := createIndexStmt.FindStringSubmatch(s); g != nil {
			creates = append(creates, s)
			created[g[2]] = true
		}
	}
	ordered := true // creates first, unless one reuses a dropped name
	for _, s := range m.stmts {
		if g := dropIndexStmt.FindStringSubmatch(s); g != nil {
			drops = append(drops, s)
			ordered = ordered && !created[g[1]]
		}
	}
	stmts := m.stmts
	if ordered {
		stmts = append(creates, drops...)
	}
	for _, s := range stmts {
		if g := dropIndexStmt.FindStringSubmatch(s); g != nil {
			if _, err := conn.ExecContext(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+g[1]); err != nil {
				return false, fmt.Errorf("%w\nin statement:\n%s", err, s)
			}
			continue
		}
		g := createIndexStmt.FindStringSubmatch(s)
		if err := dropInvalidIndex(ctx, conn, g[2]); err != nil {
			return false, err
		}
		if _, err := conn.ExecContext(ctx, "CREATE "+g[1]+"INDEX CONCURRENTLY IF NOT EXISTS "+g[2]+" ON "+g[3]); err != nil {
			_ = dropInvalidIndex(context.WithoutCancel(ctx), conn, g[2])
			return false, fmt.Errorf("%w\nin statement:\n%s", err, s)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if err := d.record(ctx, tx, m); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// dropInvalidIndex drops the index named quoted (as in the migration) if a
// failed concurrent build left it invalid.
func dropInvalidIndex(ctx context.Context, conn *sql.Conn, quoted string) error {
	name := strings.Trim(quoted, `"`)
	var invalid bool
	err := conn.QueryRowContext(ctx, `SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = $1 AND pg_table_is_visible(c.oid)`, name).Scan(&invalid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case invalid:
		_, err = conn.ExecContext(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+quoted)
	}
	return err
}

func (d *DB) record(ctx context.Context, tx *sql.Tx, m Migration) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO "+MigrationsTable+" (version, description, applied_at) VALUES ("+
		d.param(1)+", "+d.param(2)+", "+d.param(3)+")", m.Version, m.Description, time.Now().UTC().Format(time.RFC3339))
	return err
}

// adopt records every migration as applied on a database whose tables were
// created by ent's automatic migration, if its schema is exactly the one
// the migrations produce (else it refuses: the operator must decide).
func (d *DB) adopt(ctx context.Context, conn *sql.Conn, all []Migration, changes []string) ([]Migration, error) {
	if len(changes) > 0 {
		return nil, fmt.Errorf("%s has tables but no recorded migrations, and its schema differs from this version's (%s): "+
			"it cannot be adopted automatically", d.Where, strings.Join(changes, "; "))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, m := range all {
		if err := d.record(ctx, tx, m); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	for i := range all {
		all[i].Description += " (adopted: schema already in place)"
	}
	return all, nil
}

// SchemaDiff returns the changes ent's automatic migration would make to
// the database to reach the ent schema (dropped columns and indexes
// included), without making them: none when the database matches.
func (d *DB) SchemaDiff(ctx context.Context) ([]string, error) {
	var found []string
	// SQLite: the access log's table is in a file of its own (audit.go).
	audit, err := d.auditTables(ctx)
	if err != nil {
		return nil, err
	}
	hook := func(next entschema.Differ) entschema.Differ {
		return entschema.DiffFunc(func(current, desired *atlasschema.Schema) ([]atlasschema.Change, error) {
			for _, t := range audit {
				if _, inMain := current.Table(t.Name); !inMain {
					t.Schema = current
					current.Tables = append(current.Tables, t)
				}
			}
			changes, err := next.Diff(current, desired)
			if err != nil {
				return nil, err
			}
			for _, c := range changes {
				if s := describeChange(c); s != "" {
					found = append(found, s)
				}
			}
			return nil, nil // apply nothing
		})
	}
	err = d.Client.Schema.Create(ctx, entschema.WithDiffHook(hook),
		entschema.WithDropColumn(true), entschema.WithDropIndex(true))
	if err != nil {
		return nil, err
	}
	return found, nil
}

func describeChange(c atlasschema.Change) string {
	switch c := c.(type) {
	case *atlasschema.AddTable:
		return "add table " + c.T.Name
	case *atlasschema.DropTable:
		return "drop table " + c.T.Name
	case *atlasschema.ModifyTable:
		var parts []string
		for _, tc := range c.Changes {
			if predicateOnly(tc) {
				continue
			}
			parts = append(parts, strings.TrimPrefix(fmt.Sprintf("%T", tc), "*schema.")+" "+changeSubject(tc))
		}
		if len(parts) == 0 {
			return ""
		}
		return "modify table " + c.T.Name + ": " + strings.Join(parts, ", ")
	default:
		return strings.TrimPrefix(fmt.Sprintf("%T", c), "*schema.")
	}
}

// predicateOnly reports an index change in its attributes only, with a
// predicate on both sides: PostgreSQL stores a partial index's predicate in
// its own rendering, which never equals the ent schema's text, so ent's
// automatic diff always reports one. (Real predicate changes are caught by
// the migration drift test, which compares normalized forms.)
func predicateOnly(c atlasschema.Change) bool {
	m, ok := c.(*atlasschema.ModifyIndex)
	if !ok || m.Change != atlasschema.ChangeAttr {
		return false
	}
	has := func(attrs []atlasschema.Attr) bool {
		return slices.ContainsFunc(attrs, func(a atlasschema.Attr) bool { _, ok := a.(*postgres.IndexPredicate); return ok })
	}
	return has(m.From.Attrs) && has(m.To.Attrs)
}

func changeSubject(c atlasschema.Change) string {
	switch c := c.(type) {
	case *atlasschema.AddColumn:
		return c.C.Name
	case *atlasschema.DropColumn:
		return c.C.Name
	case *atlasschema.ModifyColumn:
		return c.To.Name
	case *atlasschema.AddIndex:
		return c.I.Name
	case *atlasschema.DropIndex:
		return c.I.Name
	case *atlasschema.ModifyIndex:
		return c.To.Name
	case *atlasschema.AddForeignKey:
		return c.F.Symbol
	case *atlasschema.DropForeignKey:
		return c.F.Symbol
	case *atlasschema.ModifyForeignKey:
		return c.To.Symbol
	}
	return ""
}

// applied reports whether m is recorded as applied.
func (d *DB) applied(ctx context.Context, q querier, m Migration) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+MigrationsTable+" WHERE version = "+d.param(1), m.Version).Scan(&n)
	return n > 0, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func appliedVersions(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT version FROM "+MigrationsTable+" ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

func (d *DB) hasTable(ctx context.Context, q querier, name string) (bool, error) {
	var n int
	var err error
	if d.Dialect == dialect.Postgres {
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1", name).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", name).Scan(&n)
	}
	return n > 0, err
}

// appTables counts the application's tables present in the database.
func (d *DB) appTables(ctx context.Context, q querier) (int, error) {
	n := 0
	for _, t := range entmigrate.Tables {
		ok, err := d.hasTable(ctx, q, t.Name)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

func (d *DB) param(i int) string {
	if d.Dialect == dialect.Postgres {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}
