package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// openFile opens a migrated SQLite file database in a temporary directory.
func openFile(t *testing.T, interval time.Duration) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir(), CheckpointInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// autocheckpoint is SQLite's wal_autocheckpoint on a pool connection.
func autocheckpoint(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRow("PRAGMA wal_autocheckpoint").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// write commits one row through ent (and so through the write gate).
func write(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := viewer.AllowWrites(viewer.System(context.Background()))
	if err := db.Client.AccessLog.Create().SetUserID(uuid.New()).SetRequestID(uuid.New()).
		SetKind("MEDICAL_SECTION_READ").SetAccessedAt(time.Now()).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkpointAfter waits for a background checkpoint beyond the runs
// counted so far and returns its stats; it fails the test if none comes.
func checkpointAfter(t *testing.T, db *store.DB, runs int64) store.CheckpointStats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, ok := db.Checkpoints()
		if !ok {
			t.Fatal("no background checkpoints on a SQLite file")
		}
		if s.Runs > runs {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no background checkpoint after a write (runs %d)", s.Runs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBackgroundCheckpoints(t *testing.T) {
	db := openFile(t, 10*time.Millisecond)
	// Requests leave the checkpoints to the background, but for a backstop
	// far above SQLite's 1 000 pages.
	if n := autocheckpoint(t, db); n <= 1000 {
		t.Errorf("wal_autocheckpoint %d on a pool connection: requests still checkpoint at SQLite's default", n)
	}
	before, _ := db.Checkpoints()
	write(t, db)
	s := checkpointAfter(t, db, before.Runs)
	if s.Failures != 0 || s.WALPages == 0 || s.Behind != 0 {
		t.Errorf("after one write and no reader: %+v, want the WAL's pages all copied back", s)
	}

	// A reader's snapshot keeps the pages written after it in the WAL: the
	// checkpoint leaves them behind, and says so, until the reader ends.
	// (BEGIN DEFERRED: the pool's DSN makes database/sql's transactions
	// writers.)
	ctx := context.Background()
	reader, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var n int
	if _, err := reader.ExecContext(ctx, "BEGIN DEFERRED"); err != nil {
		t.Fatal(err)
	}
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM access_logs").Scan(&n); err != nil {
		t.Fatal(err)
	}
	write(t, db)
	if s = checkpointAfter(t, db, s.Runs); s.Behind == 0 {
		t.Errorf("a reader holds a snapshot older than the last write: %+v, want pages behind", s)
	}
	if _, err := reader.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	write(t, db)
	if s = checkpointAfter(t, db, s.Runs); s.Behind != 0 || s.Failures != 0 {
		t.Errorf("the reader ended: %+v, want nothing behind", s)
	}
}

func TestCheckpointsOff(t *testing.T) {
	// A negative interval leaves checkpoints to SQLite, at its default.
	db := openFile(t, -1)
	if _, ok := db.Checkpoints(); ok {
		t.Error("background checkpoints with a negative interval")
	}
	if n := autocheckpoint(t, db); n != 1000 {
		t.Errorf("wal_autocheckpoint %d, want SQLite's default 1000", n)
	}
	// Nothing to checkpoint: an in-memory SQLite database, or PostgreSQL.
	urls := []string{store.MemoryDSN("checkpoints_off")}
	if storetest.PostgresURL() != "" {
		urls = append(urls, storetest.DatabaseURL(t))
	}
	for _, u := range urls {
		other, err := store.Open(context.Background(), store.Config{DatabaseURL: u})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := other.Checkpoints(); ok {
			t.Errorf("background checkpoints on %s", other.Where)
		}
		other.Close()
	}
}
