package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	atlas "ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"
	entschema "entgo.io/ent/dialect/sql/schema"

	"passerelle/store"
	"passerelle/store/storetest"
)

func open(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{DatabaseURL: storetest.DatabaseURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The committed migrations are exactly what the ent schema needs: ent,
// replaying them on a scratch database, has nothing left to write. When this
// fails, the ent schema changed without a migration: run
// `go generate ./store` (needs a PostgreSQL server) and commit the files.
func TestMigrationsMatchEntSchema(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	dir, err := store.MigrationDir(db.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	scratch := db.SQL
	if db.Dialect == dialect.SQLite {
		// atlas replays on one file: a connection without the access
		// log's file attached.
		if scratch, err = sql.Open("sqlite3", storetest.DatabaseURL(t)); err != nil {
			t.Fatal(err)
		}
		defer scratch.Close()
	}
	before, _ := dir.Files()
	err = store.DiffMigrations(ctx, db.Dialect, scratch, dir, "missing", entschema.WithErrNoPlan(true))
	if errors.Is(err, migrate.ErrNoPlan) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	after, _ := dir.Files()
	var missing strings.Builder
	for _, f := range after[len(before):] {
		fmt.Fprintf(&missing, "-- %s\n%s\n", f.Name(), f.Bytes())
	}
	t.Fatalf("the ent schema changed without a %s migration; run `go generate ./store` and commit store/migrations. Missing:\n%s",
		db.Dialect, missing.String())
}

// Applying the committed migrations with Migrate gives the same schema as
// ent's automatic migration of the ent schema.
func TestMigrateGivesEntSchema(t *testing.T) {
	ctx := context.Background()
	migrated, auto := open(t), open(t)
	if _, err := migrated.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := auto.Client.Schema.Create(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := inspect(t, migrated), inspect(t, auto)
	a.Tables = slices.DeleteFunc(a.Tables, func(t *atlas.Table) bool { return t.Name == store.MigrationsTable })
	// SQLite: the access log moved to a file of its own.
	audit, err := migrated.AuditTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range audit {
		at.Schema = a
		a.Tables = append(a.Tables, at)
	}
	if len(a.Tables) != len(b.Tables) || len(a.Tables) == 0 {
		t.Fatalf("%d tables from the migrations, %d from ent", len(a.Tables), len(b.Tables))
	}
	changes, err := differ(t, migrated).SchemaDiff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		t.Errorf("migrated schema differs from ent's: %T %+v", c, c)
	}
	// And ent's automatic diff against the migrated database is empty too.
	if d, err := migrated.SchemaDiff(ctx); err != nil || len(d) > 0 {
		t.Errorf("SchemaDiff after Migrate: %v %v", d, err)
	}
}

type inspectDiffer interface {
	migrate.Driver
}

func differ(t *testing.T, db *store.DB) inspectDiffer {
	t.Helper()
	var (
		drv migrate.Driver
		err error
	)
	if db.Dialect == dialect.Postgres {
		drv, err = postgres.Open(db.SQL)
	} else {
		drv, err = sqlite.Open(db.SQL)
	}
	if err != nil {
		t.Fatal(err)
	}
	return drv
}

func inspect(t *testing.T, db *store.DB) *atlas.Schema {
	t.Helper()
	s, err := differ(t, db).InspectSchema(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMigrateLifecycle(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	all, err := store.Migrations(db.Dialect)
	if err != nil || len(all) == 0 {
		t.Fatalf("migrations: %v %v", all, err)
	}

	// A fresh database is empty and behind.
	st, err := db.CheckSchema(ctx)
	if !errors.Is(err, store.ErrSchemaBehind) || !st.Empty || len(st.Pending) != len(all) {
		t.Fatalf("fresh database: %+v, %v", st, err)
	}
	if !strings.Contains(err.Error(), "passerelle migrate") || !strings.Contains(err.Error(), "serve --migrate") {
		t.Errorf("the error does not name the commands: %v", err)
	}

	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) != len(all) {
		t.Fatalf("Migrate applied %v, %v", applied, err)
	}
	if again, err := db.Migrate(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %v, %v", again, err)
	}
	if st, err := db.CheckSchema(ctx); err != nil || st.Behind() || len(st.Applied) != len(all) {
		t.Fatalf("after Migrate: %+v, %v", st, err)
	}

	// A version this program does not know: reported, not refused.
	if _, err := db.SQL.ExecContext(ctx, "INSERT INTO "+store.MigrationsTable+" (version, description, applied_at) VALUES ('99990101000000', 'future', 'x')"); err != nil {
		t.Fatal(err)
	}
	if st, err := db.CheckSchema(ctx); err != nil || !slices.Equal(st.Unknown, []string{"99990101000000"}) {
		t.Fatalf("unknown version: %+v, %v", st, err)
	}

	// Tables but no recorded migration (created by ent's former automatic
	// migration): behind; Migrate adopts it when it matches.
	if _, err := db.SQL.ExecContext(ctx, "DELETE FROM "+store.MigrationsTable); err != nil {
		t.Fatal(err)
	}
	if st, err := db.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaBehind) || !st.Unversioned {
		t.Fatalf("unversioned: %+v, %v", st, err)
	}
	adopted, err := db.Migrate(ctx)
	if err != nil || len(adopted) != len(all) || !strings.Contains(adopted[0].Description, "adopted") {
		t.Fatalf("adoption: %v, %v", adopted, err)
	}
	if _, err := db.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}

	// ...and refuses it when it does not.
	if _, err := db.SQL.ExecContext(ctx, "DELETE FROM "+store.MigrationsTable); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, "DROP INDEX event_type_occurred_at"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "event_type_occurred_at") {
		t.Fatalf("adopting a different schema: %v", err)
	}
}

// Several instances migrating one PostgreSQL database at once: each
// migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("PostgreSQL tests skipped: set PASSERELLE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	ctx := context.Background()
	url := storetest.DatabaseURL(t)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, store.Config{DatabaseURL: url})
			if err != nil {
				t.Error(err)
				return
			}
			defer db.Close()
			applied, err := db.Migrate(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += len(applied)
			mu.Unlock()
		}()
	}
	wg.Wait()
	all, _ := store.Migrations(dialect.Postgres)
	if total != len(all) {
		t.Fatalf("%d migrations applied in all, want %d", total, len(all))
	}
}
