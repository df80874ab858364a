package store

import (
	"context"
	stdsql "database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// SQLite's WAL checkpoints run in the background.
//
// By default SQLite checkpoints inside the commit that takes the WAL past
// 1 000 pages: that request copies the pages back into the database file and
// waits for two fsyncs. The dashboard's access-log rows touch about a hundred
// pages per page view (their index is keyed by random request ids), so one
// page view in eight or so paid a checkpoint, and those were the dashboard's
// slowest tenth (docs/performance.md, session 8: one client, p99 14–19 ms
// with checkpoints at commit, 10.4–10.5 ms in the background).
//
// Here the pool's connections leave checkpoints to a goroutine of their
// database, which runs a PASSIVE checkpoint (it waits for no reader or
// writer) on a connection of its own a moment after writes. SQLite's own
// checkpoint at commit stays as a backstop at checkpointBackstopPages, for
// when the goroutine falls behind or writes come from another process.
const (
	// DefaultCheckpointInterval is how long after a write the background
	// checkpoint runs: writes in between share it.
	DefaultCheckpointInterval = 100 * time.Millisecond
	// checkpointBackstopPages is the pool connections' wal_autocheckpoint
	// while the background checkpoints run (SQLite's default: 1 000).
	checkpointBackstopPages = 10000
	// checkpointTimeout bounds one background checkpoint.
	checkpointTimeout = time.Minute
)

// CheckpointStats counts the background checkpoints of a database.
type CheckpointStats struct {
	Runs     int64         // checkpoints run
	Failures int64         // of which failed (logged)
	Time     time.Duration // spent checkpointing
	// WALPages is the size in pages of the WALs (the main file's and the
	// access log's) at the last checkpoint, and Behind how many of them it
	// could not copy back (a reader still needed them; the next checkpoint
	// copies them).
	WALPages, Behind int64
}

// checkpointer runs PASSIVE checkpoints on its own connection, interval
// after the first write it is told of.
type checkpointer struct {
	db       *stdsql.DB // one connection
	interval time.Duration
	log      *slog.Logger
	wrote    chan struct{} // one pending signal at most
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	runs, failures, nanos, walPages, behind atomic.Int64
}

// sqliteConnector opens SQLite connections of dsn, running hook on each.
type sqliteConnector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c sqliteConnector) Driver() driver.Driver                        { return c.drv }

// openSQLite opens the pool of a SQLite database, each connection with the
// access log's file attached (audit.go). With interval > 0 and the database
// in WAL mode, it also starts the background checkpoints of both files (nil
// otherwise: memory databases, or interval < 0 to leave them to SQLite).
func openSQLite(dsn string, interval time.Duration, log *slog.Logger) (*stdsql.DB, *checkpointer, error) {
	if interval == 0 {
		interval = DefaultCheckpointInterval
	}
	audit := auditDSN(dsn)
	open := func(background bool) *stdsql.DB {
		hook := func(c *sqlite3.SQLiteConn) error {
			if background {
				if _, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", checkpointBackstopPages), nil); err != nil {
					return err
				}
			}
			return attachAudit(c, audit)
		}
		return stdsql.OpenDB(sqliteConnector{dsn: dsn, drv: &sqlite3.SQLiteDriver{ConnectHook: hook}})
	}
	if interval < 0 {
		return open(false), nil, nil
	}
	db := open(true)
	own := open(false)
	own.SetMaxOpenConns(1)
	own.SetMaxIdleConns(1)
	var mode string
	if err := own.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		own.Close()
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		// Not a WAL database (in memory): nothing to checkpoint.
		return db, nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &checkpointer{db: own, interval: interval, log: log,
		wrote: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return db, c, nil
}

// written tells the checkpointer that a write committed (or ended).
func (c *checkpointer) written() {
	select {
	case c.wrote <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-c.stop:
			return
		case <-c.wrote:
		}
		t.Reset(c.interval)
		select {
		case <-c.stop:
			t.Stop()
			return
		case <-t.C:
		}
		c.checkpoint()
	}
}

// checkpoint runs one PASSIVE checkpoint and records it.
func (c *checkpointer) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), checkpointTimeout)
	defer cancel()
	start := time.Now()
	// Both files: the main one and the access log's.
	var pages, behind int64
	var err error
	for _, schema := range []string{"main", AuditSchema} {
		var busy, wal, copied int64
		if err = c.db.QueryRowContext(ctx, "PRAGMA "+schema+".wal_checkpoint(PASSIVE)").Scan(&busy, &wal, &copied); err != nil {
			break
		}
		pages += max(wal, 0)
		behind += max(wal-copied, 0)
	}
	c.nanos.Add(int64(time.Since(start)))
	c.runs.Add(1)
	if err != nil {
		c.failures.Add(1)
		c.log.Warn("SQLite checkpoint failed; SQLite checkpoints at commit past its backstop", "error", err)
		return
	}
	c.walPages.Store(pages)
	c.behind.Store(behind)
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}

func (c *checkpointer) stats() CheckpointStats {
	return CheckpointStats{Runs: c.runs.Load(), Failures: c.failures.Load(),
		Time: time.Duration(c.nanos.Load()), WALPages: c.walPages.Load(), Behind: c.behind.Load()}
}

// Checkpoints returns the counts of the background checkpoints, and false
// when the database has none (PostgreSQL, SQLite in memory or with them
// off).
func (d *DB) Checkpoints() (CheckpointStats, bool) {
	if d.checkpoints == nil {
		return CheckpointStats{}, false
	}
	return d.checkpoints.stats(), true
}
