package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkInboxCount is the inbox's count on SQLite as ent writes it and as
// countRows sends it: one unit's 20 000 dispatches (of 40 000) under the
// schema's covering index. Compare the two with benchstat.
func BenchmarkInboxCount(b *testing.B) {
	db, err := sql.Open("sqlite3", SQLiteDSN(filepath.Join(b.TempDir(), "count.db")))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, s := range []string{
		"CREATE TABLE `dispatches` (`id` uuid PRIMARY KEY, `unit_id` uuid NOT NULL, `sent_at` datetime, `request_id` uuid NOT NULL)",
		"CREATE INDEX `dispatch_unit_id_sent_at_id_request_id` ON `dispatches` (`unit_id`, `sent_at`, `id`, `request_id`)",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	unit, other := uuid.New(), uuid.New()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 40_000 {
		u := unit
		if i%2 == 1 {
			u = other
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO `dispatches` VALUES (?, ?, ?, ?)", uuid.New(), u, at.Add(time.Duration(i)*time.Minute), uuid.New()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	ent := "SELECT COUNT(`dispatches`.`id`) FROM `dispatches` WHERE `dispatches`.`unit_id` IN (?)"
	for name, q := range map[string]string{"by-key": ent, "star": countStar(ent)} {
		b.Run(name, func(b *testing.B) {
			var n int
			for b.Loop() {
				if err := db.QueryRowContext(ctx, q, unit).Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
			if n != 20_000 {
				b.Fatalf("counted %d", n)
			}
		})
	}
}
