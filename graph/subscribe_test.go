package graph

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/google/uuid"

	"passerelle/enums"
	"passerelle/events"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// TestSubscribeInterrupted: a subscription whose context ends while it
// reads the events table (the connection closing, the client stopping it)
// ends without an error for the client; one whose read fails otherwise
// reports it.
func TestSubscribeInterrupted(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DatabaseURL: storetest.DatabaseURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Client: db.Client, Broker: events.NewBroker(16), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	v := &viewer.Viewer{UserID: uuid.New(), Habilitations: []viewer.Habilitation{{ID: uuid.New(),
		Profile: enums.ProfileObserver, StructureID: uuid.New(), StructureKind: enums.StructureKindAuthority}}}

	stopped, cancel := context.WithCancel(viewer.NewContext(ctx, v))
	cancel()
	out, err := r.subscribe(stopped, nil)
	if err != nil {
		t.Fatalf("an interrupted subscription reports %v", err)
	}
	if _, open := <-out; open {
		t.Error("an interrupted subscription's stream is open")
	}
	if n := r.Broker.Count(); n != 0 {
		t.Errorf("%d subscriptions left with the broker", n)
	}

	// The same read failing for another reason is an error.
	_ = db.Close()
	if _, err := r.subscribe(viewer.NewContext(ctx, v), nil); err == nil {
		t.Error("a failed read is not reported")
	}
}
