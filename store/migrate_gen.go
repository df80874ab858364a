package store

import (
	"context"
	"database/sql"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	atlas "ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	entmigrate "passerelle/ent/migrate"
)

// DiffMigrations writes to dir, as a new migration called name, what the
// ent schema needs beyond the migrations already in dir, or nothing when
// they match (with schema.WithErrNoPlan in opts, it then returns
// migrate.ErrNoPlan). db must be an empty scratch database of the engine
// (dialect.SQLite or dialect.Postgres): the migrations are replayed on it and
// the ent schema is normalized by it. migrations/gen.go writes the committed
// files with it; the drift test checks that it has nothing to write.
func DiffMigrations(ctx context.Context, dial string, db *sql.DB, dir migrate.Dir, name string, opts ...schema.MigrateOption) error {
	opts = append([]schema.MigrateOption{
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dial),
		schema.WithFormatter(migrate.DefaultFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithDiffHook(rawPredicates),
	}, opts...)
	return entmigrate.NewSchema(entsql.OpenDB(dial, db)).NamedDiff(ctx, name, opts...)
}

// rawPredicates writes partial-index predicates as the ent schema states
// them. In replay mode ent diffs against the ent schema as normalized by
// PostgreSQL, and would write PostgreSQL's rendering of the predicate
// (((status)::text = ANY ((ARRAY[...])::text[]))), which PostgreSQL
// normalizes differently again once applied: every later run would find a
// change. Created from the ent text, the index normalizes to exactly what
// the replay compares with.
func rawPredicates(next schema.Differ) schema.Differ {
	raw := map[string]string{}
	for _, t := range entmigrate.Tables {
		for _, idx := range t.Indexes {
			if idx.Annotation != nil && idx.Annotation.Where != "" {
				raw[idx.Name] = idx.Annotation.Where
			}
		}
	}
	fix := func(idx *atlas.Index) {
		w, ok := raw[idx.Name]
		if !ok {
			return
		}
		for _, a := range idx.Attrs {
			switch p := a.(type) {
			case *postgres.IndexPredicate:
				p.P = w
			case *sqlite.IndexPredicate:
				p.P = w
			}
		}
	}
	return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
		changes, err := next.Diff(current, desired)
		for _, c := range changes {
			switch c := c.(type) {
			case *atlas.AddTable:
				for _, idx := range c.T.Indexes {
					fix(idx)
				}
			case *atlas.ModifyTable:
				for _, tc := range c.Changes {
					switch tc := tc.(type) {
					case *atlas.AddIndex:
						fix(tc.I)
					case *atlas.ModifyIndex:
						fix(tc.To)
					}
				}
			}
		}
		return changes, err
	})
}
