package e2e

import (
	"context"
	"testing"

	"passerelle/ent/user"
	"passerelle/viewer"
)

// TestAccountsCreatedInDemoAreDemo: an account created by a demo account is
// demo data (it signs in only in demo mode), so playing the demo never turns
// its database into a "real" one that `serve --demo` would refuse.
func TestAccountsCreatedInDemoAreDemo(t *testing.T) {
	e := newEnv(t)
	r := e.post(e.token(support), `mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } setupToken } }`, "",
		map[string]any{"input": map[string]any{"email": "nouveau@exemple.demo", "firstName": "Nina", "lastName": "Nouvelle"}})
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	u, err := e.app.DB.Client.User.Query().Where(user.Email("nouveau@exemple.demo")).Only(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	if !u.Demo {
		t.Fatal("an account created by a demo account is not marked demo")
	}
}
