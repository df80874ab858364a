package store

import (
	"context"
	"testing"
)

// TestSQLiteConnectionsHaveStablePlans checks that a connection opened
// through Open runs with the planner stability guarantee on (the
// connection hook counts the connections whose setting it read back on).
// Without it go-sqlite3's statement cache is defeated: see sqlite_plans.go.
func TestSQLiteConnectionsHaveStablePlans(t *testing.T) {
	before := stablePlanConnections()
	db, err := Open(context.Background(), Config{DataDir: t.TempDir(), MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	a, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.SQL.Conn(ctx) // a second connection: each one gets the setting
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := stablePlanConnections() - before; got < 2 {
		t.Fatalf("%d connections opened with the planner stability guarantee, want at least 2", got)
	}
}
