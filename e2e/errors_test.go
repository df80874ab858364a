package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/app"
	"passerelle/enums"
	"passerelle/viewer"
)

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
		"bad cursor": `{ structures(after: "not a cursor") { totalCount } }`,
		// msgpack under entgql's cursor panicked on this one (fuzzing found it)
		"crafted cursor": `{ structures(after: "g8A0oXY0oXY0") { totalCount } }`,
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

// TestBombsAreRefused: an alias bomb, a complexity bomb and a 10 MB body
// are refused with a contract code, not executed.
func TestBombsAreRefused(t *testing.T) {
	e := newEnv(t)
	tok := e.token(prescriber)
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 3000 {
		fmt.Fprintf(&aliases, " a%d: viewer { id }", i)
	}
	aliases.WriteString(" }")
	complexity := `{ structures(first: 100) { edges { node { units(first: 100) { edges { node { id name } } } } } } }`
	for name, q := range map[string]string{"alias bomb": aliases.String(), "complexity": complexity} {
		if r := e.post(tok, q, "", nil); r.code() != "BAD_USER_INPUT" || r.Data != nil {
			t.Errorf("%s: want BAD_USER_INPUT and no data, got %+v (data %v)", name, r.Errors, r.Data != nil)
		}
	}
	body := `{"query":"{ viewer { id } }","variables":{"x":"` + strings.Repeat("a", 10<<20) + `"}}`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r result
	_ = json.NewDecoder(resp.Body).Decode(&r)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || r.code() != "BAD_USER_INPUT" {
		t.Fatalf("10 MB body: HTTP %d %+v", resp.StatusCode, r.Errors)
	}
}

// TestOperationTimeout: a query or mutation that outlives the server's
// operation deadline is stopped with INTERNAL and a message that says so,
// and a change it interrupted is not made. A second server on the same
// database, whose deadline is already over when an operation starts,
// answers every operation that reads the database that way.
func TestOperationTimeout(t *testing.T) {
	var url string
	e := serveWith(t, t, nil, func(c *app.Config) { url = c.Store.DatabaseURL })
	late := serveWith(t, t, nil, func(c *app.Config) {
		c.Store.DatabaseURL = url
		c.Limits.OperationTimeout = time.Nanosecond
	})
	tok := e.token(prescriber)
	for name, op := range map[string]string{"query": "Viewer", "mutation": "Logout"} {
		r := late.post(tok, contract, op, nil)
		if r.code() != "INTERNAL" || !strings.Contains(r.Errors[0].Message, "longer than the server allows") {
			t.Errorf("%s past the deadline: %+v", name, r.Errors)
		}
	}
	// The interrupted logout did not end the session.
	e.must(prescriber, "Viewer", nil)

	// Subscriptions are not bounded: one opened on the late server still
	// starts and renders its events there (the change is made in process,
	// its mutations being past the deadline).
	ctx := liveCtx(t)
	s := newLiveStory(e)
	s.run(0, 1)
	const follow = `subscription Follow($requestId: ID!) { requestEvents(requestId: $requestId) { type request { status } } }`
	sub := liveMustDial(ctx, t, late, tok).subscribe(ctx, t, follow, "Follow", map[string]any{"requestId": s.id})
	liveWaitSubscribers(ctx, t, late, 1)
	v, err := late.app.Auth.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(s.id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.app.Workflow.Cancel(viewer.NewContext(ctx, v), id, enums.CancellationReasonPatientDeceased, nil); err != nil {
		t.Fatal(err)
	}
	ev := sub.waitCount(ctx, t, 1)[0]
	if len(ev.Errors) > 0 || liveField(ev, "type") != "REQUEST_CANCELLED" || liveField(ev, "request.status") != "CANCELLED" {
		t.Fatalf("a live event past the operation deadline: %s", ev.raw)
	}
}
