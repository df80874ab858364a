package store_test

import (
	"context"
	"runtime"
	"testing"

	"entgo.io/ent/dialect"

	"passerelle/store"
	"passerelle/store/storetest"
)

func TestPoolSettings(t *testing.T) {
	db, err := store.Open(context.Background(), store.Config{DatabaseURL: storetest.DatabaseURL(t), MaxOpenConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := db.SQL.Stats().MaxOpenConnections; n != 3 {
		t.Errorf("MaxOpenConnections %d, want 3", n)
	}
	def, err := store.Open(context.Background(), store.Config{DatabaseURL: storetest.DatabaseURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	// SQLite: a few per CPU, not unlimited (a burst of cold connections
	// stalled the server; docs/performance.md, session 7).
	want := 4 * runtime.GOMAXPROCS(0)
	if def.Dialect == dialect.Postgres {
		want = 20
	}
	if n := def.SQL.Stats().MaxOpenConnections; n != want {
		t.Errorf("default MaxOpenConnections %d, want %d", n, want)
	}
}
