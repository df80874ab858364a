// Package demotest gives tests a database holding the demo data set and
// the demo accounts' signed-in contexts.
package demotest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/auth"
	"passerelle/demo"
	"passerelle/ent"
	"passerelle/ent/user"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// Open is storetest.Open with the demo data set loaded.
func Open(t testing.TB, cfg store.Config) *store.DB {
	t.Helper()
	db := storetest.Open(t, cfg)
	if _, err := demo.Load(context.Background(), db.Client, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	return db
}

// As is a context signed in as the demo account with that e-mail, with the
// habilitations valid now.
func As(t testing.TB, client *ent.Client, email string) context.Context {
	t.Helper()
	u, err := client.User.Query().Where(user.Email(email)).Only(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewService(client, auth.Config{DemoMode: true}).LoadViewer(context.Background(), u, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	return viewer.NewContext(context.Background(), v)
}
