package e2e

import "testing"

// TestEveryErrorHasAContractCode: parse, validation and limit errors answer
// with a code of the contract, not gqlgen's own.
func TestEveryErrorHasAContractCode(t *testing.T) {
	e := newEnv(t)
	tok := e.token(prescriber)
	deep := "{ viewer { habilitations { structure { units { edges { node { structure { units { edges { node { structure { units { edges { node { id } } } } } } } } } } } } } } }"
	for name, q := range map[string]string{
		"parse":      "{ viewer { id ",
		"validation": "{ viewer { noSuchField } }",
		"depth":      deep,
		"page":       "{ structures(first: 1000) { totalCount } }",
		"bad id":     `{ node(id: "not-an-id") { id } }`,
	} {
		r := e.post(tok, q, "", nil)
		if r.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: want BAD_USER_INPUT, got %+v", name, r.Errors)
		}
	}
	if r := e.post("", "{ viewer { id } }", "", nil); r.code() != "UNAUTHENTICATED" {
		t.Errorf("anonymous viewer: %+v", r.Errors)
	}
	if r := e.post("not-a-token", "{ viewer { id } }", "", nil); r.code() != "UNAUTHENTICATED" {
		t.Errorf("unknown token: %+v", r.Errors)
	}
}

// TestSubscriptionOverPlainPOST: a subscription sent as a plain POST is
// refused at once (it would otherwise wait for its first event forever).
func TestSubscriptionOverPlainPOST(t *testing.T) {
	e := newEnv(t)
	r := e.post(e.token(prescriber), "subscription { dashboardEvents { type } }", "", nil)
	if r.code() != "BAD_USER_INPUT" {
		t.Fatalf("want BAD_USER_INPUT, got %+v", r.Errors)
	}
}
