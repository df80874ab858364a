package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/ent/accesslog"
	"passerelle/ent/habilitation"
	"passerelle/ent/user"
	"passerelle/viewer"
)

// gqlgen runs root-field middleware for queries and mutations only. These
// tests hold the two rules that live there to subscriptions too.

// TestSubscriptionMedicalReadsAreLogged: every event that carries a medical
// section is in the access log before it reaches the subscriber.
func TestSubscriptionMedicalReadsAreLogged(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	s := newLiveStory(e)
	s.run(0, 1)
	sys := viewer.System(context.Background())
	rid := uuid.MustParse(s.id)
	logged := func(who string) int {
		n, err := e.app.DB.Client.AccessLog.Query().
			Where(accesslog.UserID(uuid.MustParse(e.userID(who))), accesslog.RequestID(rid)).Count(sys)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const follow = `subscription Follow($requestId: ID!) {
  requestEvents(requestId: $requestId) { type request { id medical { diagnosis } } }
}`
	before, refusedBefore := logged(prescriber), logged(adminSocial)
	sub := liveMustDial(ctx, t, e, e.token(prescriber)).subscribe(ctx, t, follow, "Follow", map[string]any{"requestId": s.id})
	// Its twin: a profile that may not read the section gets it refused,
	// and nothing is logged for it.
	refused := liveMustDial(ctx, t, e, e.token(adminSocial)).subscribe(ctx, t, follow, "Follow", map[string]any{"requestId": s.id})
	liveWaitSubscribers(ctx, t, e, 2)
	s.run(1, 3) // two saves of the medical section, by the care team
	got := sub.waitCount(ctx, t, 2)
	for i, ev := range got {
		if len(ev.Errors) > 0 || liveField(ev, "request.medical.diagnosis") != "Cancer bronchique" {
			t.Fatalf("event %d: %s", i, ev.raw)
		}
	}
	if n := logged(prescriber); n < before+len(got) {
		t.Fatalf("%d medical readings delivered live, %d logged", len(got), n-before)
	}
	for i, ev := range refused.waitCount(ctx, t, 2) {
		if len(ev.Errors) == 0 || liveField(ev, "request.medical.diagnosis") != "" {
			t.Fatalf("administrative manager, event %d: %s", i, ev.raw)
		}
	}
	if n := logged(adminSocial); n != refusedBefore {
		t.Fatalf("%d readings logged for a profile refused the medical section", n-refusedBefore)
	}
}

// TestSubscriptionAccessGate: a user whose password is too old, or who holds
// no valid habilitation, cannot subscribe (PASSWORD_EXPIRED, FORBIDDEN), as
// they cannot query.
func TestSubscriptionAccessGate(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	expired, unhabilitated := e.token(careTeam), e.token(adminSocial)
	ageThePassword(t, e, careTeam)
	sys := viewer.System(context.Background())
	if _, err := e.app.DB.Client.Habilitation.Update().
		Where(habilitation.HasUserWith(user.Email(adminSocial))).SetRevokedAt(time.Now().UTC()).Save(sys); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, token, code string }{
		{"password expired", expired, "PASSWORD_EXPIRED"},
		{"no habilitation", unhabilitated, "FORBIDDEN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := liveMustDial(ctx, t, e, c.token)
			defer conn.close()
			sub := conn.subscribe(ctx, t, `subscription { dashboardEvents { type } }`, "", nil)
			// graphql-transport-ws: one "next" with the error and no data,
			// then "complete".
			events, _ := sub.waitEnd(ctx, t)
			if len(events) != 1 || len(events[0].Data) > 0 || len(events[0].Errors) != 1 || liveCode(events[0].Errors[0]) != c.code {
				t.Fatalf("got %+v; want one message with a %s error and no data", events, c.code)
			}
		})
	}
}

// TestSubscriptionMedicalUnloggedIsNotServed: a live event whose medical
// section cannot be written to the access log goes out without it — the
// section is null with an error that says nothing of the cause — and the
// rest of the event is still delivered.
func TestSubscriptionMedicalUnloggedIsNotServed(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	s := newLiveStory(e)
	s.run(0, 1)
	const follow = `subscription Follow($requestId: ID!) {
  requestEvents(requestId: $requestId) { type request { id medical { diagnosis } } }
}`
	sub := liveMustDial(ctx, t, e, e.token(prescriber)).subscribe(ctx, t, follow, "Follow", map[string]any{"requestId": s.id})
	liveWaitSubscribers(ctx, t, e, 1)

	// The access log can no longer be written.
	if _, err := e.app.DB.SQL.ExecContext(ctx, "DROP TABLE access_logs"); err != nil {
		t.Fatal(err)
	}
	// A save whose own answer reads no medical section, so that it succeeds.
	const save = `mutation SaveQuiet($requestId: ID!, $input: MedicalSectionInput!) {
  saveMedicalSection(requestId: $requestId, input: $input) { id }
}`
	if r := e.post(e.token(careTeam), save, "SaveQuiet", map[string]any{"requestId": s.id,
		"input": map[string]any{"diagnosis": "Cancer bronchique", "ppsScore": 40}}); len(r.Errors) > 0 {
		t.Fatalf("save: %+v", r.Errors)
	}
	ev := sub.waitCount(ctx, t, 1)[0]
	if liveField(ev, "type") != "SECTION_UPDATED" || liveField(ev, "request.id") != s.id {
		t.Fatalf("the event itself must still arrive: %s", ev.raw)
	}
	if liveField(ev, "request.medical.diagnosis") != "" || strings.Contains(ev.raw, "Cancer") {
		t.Fatalf("a medical section went out unlogged: %s", ev.raw)
	}
	if len(ev.Errors) != 1 || ev.Errors[0].Extensions["code"] != "INTERNAL" ||
		strings.Contains(ev.Errors[0].Message, "access_logs") {
		t.Fatalf("want one INTERNAL error that hides its cause: %s", ev.raw)
	}
}
