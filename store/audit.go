package store

import (
	"context"
	stdsql "database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	atlasschema "ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	entsql "entgo.io/ent/dialect/sql"
	entschema "entgo.io/ent/dialect/sql/schema"
	sqlite3 "github.com/mattn/go-sqlite3"

	entmigrate "passerelle/ent/migrate"
)

// On SQLite the access log lives in a database file of its own,
// passerelle-audit.db beside passerelle.db, attached to every connection as
// the schema "audit".
//
// In WAL mode, a commit to a database makes every other connection drop its
// whole page cache for that database at its next read (the WAL's header
// changed). The prescriber's dashboard commits the 50 medical readings of
// each page to the access log, so in one file every page view emptied the
// caches of the other connections, and their next pages read a few hundred
// pages back from the operating system (docs/performance.md, sessions 7 and
// 9). A commit to the attached file leaves the main file's WAL, and so the
// caches of its pages, alone.
//
// The table keeps its name: SQLite resolves an unqualified name in main
// first, then in the attached databases, so ent's statements and the
// hand-written ones reach audit.access_logs once main has none. The access
// log has no foreign key (a foreign key cannot cross files). The migrations
// create the table in main, as for PostgreSQL; Migrate then moves it (and
// the rows of a database written before this layout) to the audit file, and
// CheckSchema reports a database where that is still to be done as behind.
// Later migrations reach the table where it is: SQLite finds an unqualified
// table (ALTER TABLE) or index (DROP INDEX) in any attached file, and apply
// puts an index created on the access log in the audit file when the table
// is there (inAuditFile; an unqualified CREATE INDEX means main). A table
// rebuild, atlas's way of changing a column on SQLite, recreates the table
// in main; Migrate then moves it again. TestMigrateGivesEntSchema compares
// both files with the ent schema.
//
// A transaction that writes both files is atomic in each of them only (a
// crash between the two commits keeps one): the server writes the access
// log in transactions of its own, and moveAccessLog orders its two steps so
// that a crash between them loses nothing.

// AuditSchema is the name the access log's SQLite file is attached under.
const AuditSchema = "audit"

// accessLogTable is the table that lives in the audit file.
const accessLogTable = "access_logs"

// auditCacheKiB is the page cache of the audit file per connection: only
// its index pages are touched (by inserts), never read by a page view.
const auditCacheKiB = 8 * 1024

// auditDSN is the DSN of the audit file that goes with a SQLite DSN: the
// file's name with "-audit" before its extension, in the same directory, with
// the same URI parameters (an in-memory test database gets an in-memory
// audit database of its own name).
func auditDSN(dsn string) string {
	name, query, hasQuery := strings.Cut(dsn, "?")
	prefix := ""
	if rest, ok := strings.CutPrefix(name, "file:"); ok {
		prefix, name = "file:", rest
	}
	if name == ":memory:" || name == "" {
		// A private in-memory database per connection: so is its log.
		return ":memory:"
	}
	ext := filepath.Ext(name)
	name = strings.TrimSuffix(name, ext) + "-audit" + ext
	if prefix != "" && hasQuery {
		// SQLite reads its own URI parameters (mode, cache, …) and
		// ignores the driver's (_fk, _txlock, …).
		return prefix + name + "?" + query
	}
	return prefix + name
}

// AuditPath is the access log's file that goes with a SQLite file.
func AuditPath(dbPath string) string { return auditDSN(dbPath) }

// attachAudit attaches the audit file to a new connection, with the main
// file's durability and WAL mode.
func attachAudit(c *sqlite3.SQLiteConn, dsn string) error {
	if _, err := c.Exec("ATTACH DATABASE ? AS "+AuditSchema, []driver.Value{dsn}); err != nil {
		return fmt.Errorf("attaching the access log's file %s: %w", dsn, err)
	}
	for _, p := range []string{
		// A memory database answers "memory" and stays so.
		"PRAGMA " + AuditSchema + ".journal_mode = WAL",
		"PRAGMA " + AuditSchema + ".synchronous = NORMAL",
		fmt.Sprintf("PRAGMA %s.cache_size = -%d", AuditSchema, auditCacheKiB),
	} {
		if _, err := c.Exec(p, nil); err != nil {
			return fmt.Errorf("setting up the access log's file %s (%s): %w", dsn, p, err)
		}
	}
	return nil
}

// accessLogInMain reports whether the access log is still in the main
// SQLite file (a database migrated before it moved, or not yet migrated).
func (d *DB) accessLogInMain(ctx context.Context, q querier) (bool, error) {
	if d.audit == "" {
		return false, nil
	}
	return d.hasTable(ctx, q, accessLogTable)
}

// accessLogMissing reports whether neither file has the access log while
// the main file is migrated (the audit file was deleted, or not restored with
// the main one).
func (d *DB) accessLogMissing(ctx context.Context, q querier) (bool, error) {
	if d.audit == "" {
		return false, nil
	}
	var n int
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+AuditSchema+".sqlite_master WHERE type = 'table' AND name = ?",
		accessLogTable).Scan(&n)
	if err != nil || n > 0 {
		return false, err
	}
	in, err := d.hasTable(ctx, q, accessLogTable)
	return !in, err
}

// AuditFile names the SQLite file of the access log ("" on PostgreSQL).
func (d *DB) AuditFile() string {
	name, _, _ := strings.Cut(strings.TrimPrefix(d.audit, "file:"), "?")
	return name
}

// placeAccessLog puts the access log in the audit file: an empty one when
// neither file has it (made by ent in main, as the migrations would, then
// moved), else moved from the main file.
func (d *DB) placeAccessLog(ctx context.Context, conn *stdsql.Conn) error {
	missing, err := d.accessLogMissing(ctx, conn)
	if err != nil || d.audit == "" {
		return err
	}
	if missing {
		m, err := entschema.NewMigrate(entsql.OpenDB(d.Dialect, d.SQL))
		if err != nil {
			return err
		}
		if err := m.Create(ctx, entmigrate.AccessLogsTable); err != nil {
			return fmt.Errorf("creating an empty access log: %w", err)
		}
	}
	return d.moveAccessLog(ctx, conn)
}

// moveAccessLog moves the access log from the main file to the audit file:
// first its rows are copied in a transaction that writes the audit file
// only, then the main file's table is dropped, in a transaction that writes
// the main file only and only once every row it holds is in the audit file
// (rows written in between are copied on the next turn). A crash between
// the two leaves the rows in both files; the next Migrate copies what is
// missing (by id) and drops.
func (d *DB) moveAccessLog(ctx context.Context, conn *stdsql.Conn) error {
	for turn := 0; ; turn++ {
		in, err := d.accessLogInMain(ctx, conn)
		if err != nil || !in {
			return err
		}
		if turn == 10 {
			return errors.New("moving the access log to its own file: rows keep arriving in the main file (another program writing?)")
		}
		if err := inTx(ctx, conn, func(tx *stdsql.Tx) error {
			if err := createAuditTable(ctx, tx); err != nil {
				return err
			}
			cols, err := copyableColumns(ctx, tx)
			if err != nil {
				return err
			}
			list := strings.Join(cols, ", ")
			_, err = tx.ExecContext(ctx, "INSERT OR IGNORE INTO "+AuditSchema+"."+accessLogTable+" ("+list+
				") SELECT "+list+" FROM main."+accessLogTable)
			return err
		}); err != nil {
			return fmt.Errorf("copying the access log to its own file: %w", err)
		}
		moved := false
		if err := inTx(ctx, conn, func(tx *stdsql.Tx) error {
			var left int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM main."+accessLogTable+
				" WHERE id NOT IN (SELECT id FROM "+AuditSchema+"."+accessLogTable+")").Scan(&left); err != nil {
				return err
			}
			if left > 0 {
				return nil
			}
			moved = true
			_, err := tx.ExecContext(ctx, "DROP TABLE main."+accessLogTable)
			return err
		}); err != nil {
			return fmt.Errorf("dropping the access log from the main file: %w", err)
		}
		if moved {
			return nil
		}
	}
}

// copyableColumns names the columns of the access log to copy from the
// main file to the audit file, by name: the two tables may differ in column
// order (the audit file's table was made by an older version, and a
// migration rebuilt the main file's since), and `SELECT *` would then put
// values in the wrong columns. A column of the main file's table that the
// audit file's lacks stops the move (its values would be lost); one the
// audit file's table has more is left to its default.
func copyableColumns(ctx context.Context, tx *stdsql.Tx) ([]string, error) {
	columns := func(schema string) ([]string, error) {
		rows, err := tx.QueryContext(ctx, "SELECT name FROM pragma_table_info(?, ?) ORDER BY cid", accessLogTable, schema)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
	inMain, err := columns("main")
	if err != nil {
		return nil, err
	}
	audit, err := columns(AuditSchema)
	if err != nil {
		return nil, err
	}
	for _, c := range inMain {
		if !slices.Contains(audit, c) {
			return nil, fmt.Errorf("the access log in the main file has a column %q that its table in %s lacks: "+
				"add it there (ALTER TABLE %s.%s ADD COLUMN …), then migrate again", c, AuditSchema, AuditSchema, accessLogTable)
		}
	}
	quoted := make([]string, len(inMain))
	for i, c := range inMain {
		quoted[i] = "`" + strings.ReplaceAll(c, "`", "``") + "`"
	}
	return quoted, nil
}

// createIndexOnAccessLog is a SQLite index creation on the access log:
// the statement's head, and the rest from the index's name on.
var createIndexOnAccessLog = regexp.MustCompile("(?is)^(\\s*CREATE\\s+(?:UNIQUE\\s+)?INDEX\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?)" +
	"([`\"]?\\w+[`\"]?\\s+ON\\s+[`\"]?" + accessLogTable + "[`\"]?[\\s(].*)$")

// inAuditFile puts a migration's index creation on the access log in the
// audit file when the table is there, as the statement, written for one
// file, means.
func (d *DB) inAuditFile(ctx context.Context, q querier, stmt string) (string, error) {
	m := createIndexOnAccessLog.FindStringSubmatch(stmt)
	if d.audit == "" || m == nil {
		return stmt, nil
	}
	in, err := d.hasTable(ctx, q, accessLogTable)
	if err != nil || in {
		return stmt, err
	}
	return m[1] + AuditSchema + "." + m[2], nil
}

// createAuditTable creates the access log in the audit file as the main
// file has it (same columns in the same order, same indexes), if it is not
// there yet.
func createAuditTable(ctx context.Context, tx *stdsql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT sql FROM main.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL"+
		" ORDER BY type = 'table' DESC", accessLogTable)
	if err != nil {
		return err
	}
	var ddl []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		ddl = append(ddl, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range ddl {
		var q string
		for _, kw := range []string{"CREATE TABLE ", "CREATE INDEX ", "CREATE UNIQUE INDEX "} {
			if rest, ok := strings.CutPrefix(s, kw); ok {
				q = kw + "IF NOT EXISTS " + AuditSchema + "." + rest
				break
			}
		}
		if q == "" {
			return fmt.Errorf("unexpected statement for %s: %s", accessLogTable, s)
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func inTx(ctx context.Context, conn *stdsql.Conn, f func(*stdsql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// auditTables inspects the audit file's tables (none without one), so that
// comparisons with the ent schema see the access log where it is.
func (d *DB) auditTables(ctx context.Context) ([]*atlasschema.Table, error) {
	if d.audit == "" {
		return nil, nil
	}
	// On a connection of its own, where the audit file is main: atlas
	// inspects main only.
	db, err := stdsql.Open("sqlite3", d.audit)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	drv, err := sqlite.Open(db)
	if err != nil {
		return nil, err
	}
	s, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("inspecting the access log's file: %w", err)
	}
	return s.Tables, nil
}
