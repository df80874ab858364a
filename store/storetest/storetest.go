// Package storetest gives each test a fresh database: a SQLite file in a
// temporary directory by default, or a PostgreSQL database created (and dropped) on the
// server named by PASSERELLE_TEST_POSTGRES (e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When
// PASSERELLE_REQUIRE_POSTGRES=1 and no server answers, tests fail instead of
// skipping: CI sets it so the PostgreSQL run cannot silently vanish.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"passerelle/store"
)

var seq atomic.Int64

// PostgresURL returns the server URL given to the tests, if any.
func PostgresURL() string { return os.Getenv("PASSERELLE_TEST_POSTGRES") }

// DatabaseURL returns the DSN of a fresh database for t.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	// Only [a-z0-9_]: the name goes into a SQLite URI (where '#' or '?' would
	// end the path) and into a PostgreSQL identifier.
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()))
	name := fmt.Sprintf("t_%d_%d_%s", os.Getpid(), seq.Add(1), clean)
	if len(name) > 60 {
		name = name[:60]
	}
	admin := PostgresURL()
	if admin == "" {
		// A file with WAL, as in production: the shared in-memory mode
		// answers concurrent writers with "table is locked" instead of
		// waiting, which is not how the server behaves.
		return store.SQLiteDSN(filepath.Join(t.TempDir(), name+".db"))
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		if os.Getenv("PASSERELLE_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL required but unavailable: %v", err)
		}
		t.Skipf("PostgreSQL unavailable (%v): skipping", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open opens a fresh database for t (cfg.DatabaseURL, when empty, is
// DatabaseURL(t)), applies the migrations and closes it when t ends.
func Open(t testing.TB, cfg store.Config) *store.DB {
	t.Helper()
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = DatabaseURL(t)
	}
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}
