package main

import (
	"context"
	"testing"
	"time"

	"passerelle/demo"
	"passerelle/ent/user"
	"passerelle/store"
	"passerelle/viewer"
)

// The generate subcommand writes the tiny preset, and running it again
// adds nothing (the data set is a function of the seed).
func TestGenerateIsRestartable(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a data set")
	}
	dir := t.TempDir()
	ctx := context.Background()
	count := func() int {
		db, err := store.Open(ctx, store.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		n, err := db.Client.AdmissionRequest.Query().Count(viewer.System(ctx))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	args := []string{"--preset", "tiny", "--data-dir", dir, "--sqlite-cache-mb", "8"}
	if err := generate(ctx, args); err != nil {
		t.Fatal(err)
	}
	first := count()
	if first != 400 {
		t.Fatalf("tiny preset: %d requests, want 400", first)
	}
	if err := generate(ctx, args); err != nil {
		t.Fatal(err)
	}
	if again := count(); again != first {
		t.Fatalf("second run: %d requests, want %d", again, first)
	}
	// A generated data set is a demo world: serve --demo accepts it (the
	// demo accounts then see the generated activity of their structures).
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if real, err := db.Client.User.Query().Where(user.Demo(false)).Count(viewer.System(ctx)); err != nil || real != 0 {
		t.Fatalf("%d non-demo accounts generated (%v)", real, err)
	}
	if created, err := demo.Load(ctx, db.Client, time.Now()); err != nil || created {
		t.Fatalf("demo.Load on a generated data set: created %v, %v", created, err)
	}
	if err := generate(ctx, []string{"--preset", "tiny", "--end", "2026-13-40", "--data-dir", t.TempDir()}); err == nil {
		t.Fatal("a malformed --end must be refused")
	}
	if err := generate(ctx, []string{"--preset", "nowhere", "--data-dir", t.TempDir()}); err == nil {
		t.Fatal("an unknown preset must be refused")
	}
}
