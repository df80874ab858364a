//go:build ignore

// Command gen writes a new versioned migration for each engine when the ent
// schema changed: it replays the committed migrations on a scratch database
// (SQLite in memory; a database created and dropped on the PostgreSQL
// server), compares the result with the ent schema and writes the
// difference as <version>_<name>.sql, updating atlas.sum. Nothing is written
// when the schema did not change. Run from store/:
//
//	go generate ./store                      (name "schema")
//	go run ./migrations/gen.go add_reminders  (a descriptive name)
//	go run ./migrations/gen.go -rehash        (after editing a file by hand)
//
// A migration may be edited by hand where atlas writes it badly (it rebuilds
// a whole SQLite table to change the order of an index's column:
// 20261126170609_inbox_order_index); -rehash then rewrites both atlas.sum
// files, and TestMigrationsMatchEntSchema checks that the files still give
// the ent schema.
//
// PASSERELLE_DEV_POSTGRES names the PostgreSQL server (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable).
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	"passerelle/store"
)

func main() {
	log.SetFlags(0)
	name := "schema"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	if name == "-rehash" {
		for _, path := range []string{"migrations/sqlite", "migrations/postgres"} {
			rehash(path)
		}
		return
	}
	if !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(name) {
		log.Fatalf("migration name %q: use lower case letters, digits and _", name)
	}
	// One version for both engines.
	version := time.Now().UTC().Format("20060102150405")
	ctx := context.Background()

	// SQLite: a private in-memory database.
	lite, err := sql.Open("sqlite3", "file:migrations_dev?mode=memory&cache=shared&_fk=1")
	if err != nil {
		log.Fatal(err)
	}
	lite.SetMaxOpenConns(1)
	diff(ctx, "migrations/sqlite", dialect.SQLite, lite, version, name)
	lite.Close()

	// PostgreSQL: a scratch database on the server.
	server := os.Getenv("PASSERELLE_DEV_POSTGRES")
	if server == "" {
		server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	scratch := fmt.Sprintf("passerelle_migrations_dev_%d", os.Getpid())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+scratch); err != nil {
		log.Fatalf("PostgreSQL migrations need a scratch database on a server (set PASSERELLE_DEV_POSTGRES): %v", err)
	}
	defer admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)")
	u, err := url.Parse(server)
	if err != nil {
		log.Fatal(err)
	}
	u.Path = "/" + scratch
	pg, err := sql.Open("pgx", u.String())
	if err != nil {
		log.Fatal(err)
	}
	diff(ctx, "migrations/postgres", dialect.Postgres, pg, version, name)
	pg.Close()
}

// rehash rewrites the atlas.sum of a migration directory from its files.
func rehash(path string) {
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		log.Fatal(err)
	}
	sum, err := dir.Checksum()
	if err != nil {
		log.Fatal(err)
	}
	if err := migrate.WriteSumFile(dir, sum); err != nil {
		log.Fatal(err)
	}
	log.Printf("%s: atlas.sum rewritten", path)
}

// diff writes the migration of one engine.
func diff(ctx context.Context, path, dial string, db *sql.DB, version, name string) {
	local, err := migrate.NewLocalDir(path)
	if err != nil {
		log.Fatal(err)
	}
	before, err := local.Files()
	if err != nil {
		log.Fatal(err)
	}
	if err := store.DiffMigrations(ctx, dial, db, &versionedDir{LocalDir: local, version: version}, name); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	after, err := local.Files()
	if err != nil {
		log.Fatal(err)
	}
	if len(after) == len(before) {
		log.Printf("%s: no schema change", path)
		return
	}
	log.Printf("%s: wrote %s", path, filepath.Join(path, after[len(after)-1].Name()))
}

// versionedDir names new migration files with the version chosen for this
// run, so that both engines get the same one.
type versionedDir struct {
	*migrate.LocalDir
	version string
}

var leadingVersion = regexp.MustCompile(`^[0-9]+`)

func (d *versionedDir) WriteFile(name string, b []byte) error {
	if filepath.Ext(name) == ".sql" {
		name = leadingVersion.ReplaceAllString(name, d.version)
	}
	return d.LocalDir.WriteFile(name, b)
}
