// Package store opens the database: the embedded SQLite file by default, or
// PostgreSQL when given a postgres:// URL.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "github.com/mattn/go-sqlite3"    // SQLite driver "sqlite3"

	"passerelle/ent"
	_ "passerelle/ent/runtime" // registers privacy policies and defaults
)

// Config says which database to open.
type Config struct {
	// DatabaseURL, when it starts with postgres:// or postgresql://, selects PostgreSQL.
	DatabaseURL string
	// DataDir holds the SQLite file passerelle.db (created if missing).
	DataDir string
	// MaxOpenConns caps the pool (PostgreSQL default 20; SQLite default
	// sqliteConnsPerCPU × GOMAXPROCS). On PostgreSQL each instance also
	// holds one connection for its event listener.
	//
	// SQLite's pool used to be unlimited: a burst of requests (an open-model
	// load, a stall of a few milliseconds) opened new connections, each
	// cold — the schema parsed, no prepared statement, an empty page cache
	// — so the burst's requests ran slower, more of them piled up and more
	// connections opened: S1 at 420 pages/s stalled for 300–1 000 ms with
	// arrivals dropped, and ran without a stall with the pool capped
	// (docs/performance.md, session 7). SQLite's work is CPU in this
	// process: more connections than a few per core add no throughput.
	MaxOpenConns int
	// MaxIdleConns caps idle pooled connections (default: MaxOpenConns:
	// with fewer, concurrent requests kept closing and reopening
	// connections, each reopen parsing the schema and starting cold).
	MaxIdleConns int
	// ConnMaxLifetime closes pooled connections after that long (0: never).
	ConnMaxLifetime time.Duration
	// Trace, when set, is called with every SQL statement (tests count them).
	Trace func(ctx context.Context, statement string)
	// CheckpointInterval: how long after a write a SQLite database in WAL
	// mode checkpoints, in the background (checkpoint.go); 0:
	// DefaultCheckpointInterval; negative: no background checkpoints,
	// SQLite checkpoints in the commit that takes the WAL past 1 000 pages.
	CheckpointInterval time.Duration
	// Logger receives what the store reports on its own (failed background
	// checkpoints); nil: nothing.
	Logger *slog.Logger
}

// DB is an open database with its ent client.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string
	// Where describes the database for logs (no password).
	Where string

	checkpoints *checkpointer // SQLite in WAL mode, unless turned off
	gate        *writeGate    // SQLite
	audit       string        // SQLite: the DSN of the access log's file (audit.go)
}

// SQLiteDSN is the DSN of a SQLite file: WAL, foreign keys, busy timeout and
// immediate write transactions avoid most "database is locked" surprises.
// Each connection gets a 64 MiB page cache (the driver's default is 2 MiB):
// random UUID keys scatter every index, and a dashboard page touches a few
// hundred pages (docs/performance.md). The cache fills only with pages read,
// and idle connections beyond MaxIdleConns are closed.
//
// Each connection also keeps its last 256 prepared statements (the driver
// prepares every statement anew otherwise): ent and the direct reads send
// the same few hundred statement texts over and over, and preparing the
// larger ones costs SQLite more than running them (the session statement:
// ≈ 80 µs to prepare, 13 µs to run).
func SQLiteDSN(path string) string { return SQLiteDSNCache(path, 64) }

// SQLiteDSNCache is SQLiteDSN with a page cache of cacheMiB per connection
// (bulk loads use more).
func SQLiteDSNCache(path string, cacheMiB int) string {
	return fmt.Sprintf("file:%s?_fk=1&_journal_mode=WAL&_busy_timeout=%d&_synchronous=NORMAL&_txlock=immediate&_cache_size=-%d&_stmt_cache_size=%d",
		path, sqliteBusyTimeout.Milliseconds(), cacheMiB*1024, sqliteStmtCache)
}

// sqliteConnsPerCPU sizes SQLite's default pool: enough for the requests
// that wait on something else than the CPU (a page read from the file, the
// write gate), few enough that each connection stays warm.
const sqliteConnsPerCPU = 4

// sqliteStmtCache is how many prepared statements each SQLite connection keeps.
const sqliteStmtCache = 256

// sqliteBusyTimeout is how long a writer waits for SQLite's write lock
// (in the DSN) and for its turn at the write gate.
const sqliteBusyTimeout = 10 * time.Second

// MemoryDSN is a private in-memory SQLite database (tests).
func MemoryDSN(name string) string {
	return fmt.Sprintf("file:%s?mode=memory&cache=shared&_fk=1&_busy_timeout=%d&_txlock=immediate&_stmt_cache_size=%d",
		name, sqliteBusyTimeout.Milliseconds(), sqliteStmtCache)
}

// IsPostgres reports whether the URL selects PostgreSQL.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// Open opens the database named by cfg.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	var driver, dsn, dial, where string
	switch {
	case IsPostgres(cfg.DatabaseURL):
		driver, dsn, dial = "pgx", cfg.DatabaseURL, dialect.Postgres
		where = "PostgreSQL"
	case cfg.DatabaseURL != "":
		// A SQLite DSN given directly (tests, special setups).
		driver, dsn, dial, where = "sqlite3", cfg.DatabaseURL, dialect.SQLite, cfg.DatabaseURL
	default:
		dir := cfg.DataDir
		if dir == "" {
			dir = "data"
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory %s: %w", dir, err)
		}
		path := filepath.Join(dir, "passerelle.db")
		driver, dsn, dial, where = "sqlite3", SQLiteDSN(path), dialect.SQLite, path
	}
	var db *sql.DB
	var cp *checkpointer
	var err error
	if driver == "sqlite3" {
		if db, cp, err = openSQLite(dsn, cfg.CheckpointInterval, cfg.Logger); err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", where, err)
		}
	} else if db, err = sql.Open(driver, dsn); err != nil {
		return nil, err
	}
	open, idle := cfg.MaxOpenConns, cfg.MaxIdleConns
	if open <= 0 {
		open = sqliteConnsPerCPU * runtime.GOMAXPROCS(0)
		if dial == dialect.Postgres {
			open = 20
		}
	}
	if idle <= 0 {
		idle = open
	}
	db.SetMaxOpenConns(open)
	db.SetMaxIdleConns(idle)
	if dial == dialect.Postgres {
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	if cfg.ConnMaxLifetime > 0 {
		db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		if cp != nil {
			cp.close()
		}
		return nil, fmt.Errorf("connecting to %s: %w", where, err)
	}
	var drv dialect.Driver = entsql.OpenDB(dial, db)
	if cfg.Trace != nil {
		drv = dialect.DebugWithContext(drv, func(ctx context.Context, args ...any) {
			cfg.Trace(ctx, fmt.Sprint(args...))
		})
	}
	var gate *writeGate
	if dial == dialect.SQLite {
		gate = newWriteGate(drv, sqliteBusyTimeout)
		if cp != nil {
			gate.written = cp.written
		}
		drv = gate
	}
	// Outermost, so that the trace shows the statements as sent.
	drv = newCountRows(drv)
	d := &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db, Dialect: dial, Where: where, checkpoints: cp, gate: gate}
	if dial == dialect.SQLite {
		d.audit = auditDSN(dsn)
	}
	return d, nil
}

// Ping checks the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

// Close closes the database.
func (d *DB) Close() error {
	err := d.Client.Close()
	if d.checkpoints != nil {
		err = errors.Join(err, d.checkpoints.close())
	}
	return err
}
