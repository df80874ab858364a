package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"passerelle/enums"
)

// TestWithdrawnUnitSeesNothingAfter: a unit withdrawn from a request keeps
// the timeline it had received, and nothing that happens after.
func TestWithdrawnUnitSeesNothingAfter(t *testing.T) {
	e := newEnv(t)
	perine, garnier := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier")
	id, dispatchOf := e.sentRequest(perine, garnier)
	timeline := func(who string) []string {
		var types []string
		for _, ev := range get(e.must(who, "Timeline", map[string]any{"id": id}), "node.events").([]any) {
			types = append(types, str(ev, "type"))
		}
		return types
	}
	e.must(garnierDoc, "OpenDispatch", map[string]any{"dispatchId": dispatchOf[garnier]})
	e.must(prescriber, "Withdraw", map[string]any{"dispatchId": dispatchOf[garnier]})
	before := timeline(garnierDoc)
	if before[len(before)-1] != "DISPATCH_WITHDRAWN" {
		t.Fatalf("the withdrawn unit must see its withdrawal: %v", before)
	}
	e.must(prescriber, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"dependence": "Partielle"}})
	if after := timeline(garnierDoc); !slices.Equal(after, before) {
		t.Fatalf("withdrawn unit saw later events:\nbefore %v\nafter  %v", before, after)
	}
	// The unit still in play sees the change.
	if got := timeline(perineDoctor); !slices.Contains(got, "REQUEST_UPDATED") {
		t.Fatalf("Sainte-Périne should see the update: %v", got)
	}
}

// TestInboxOfAReceiverWithSeveralHats: a unit's inbox lists the dispatches
// that unit received and nothing else, for a user who also prescribes (and
// so sees other units' dispatches of the requests of their structure) and
// who receives for a second unit. The inbox is read as the unit's receiver
// only (rule.AsReceiverOf); this pins what that narrowing must keep.
func TestInboxOfAReceiverWithSeveralHats(t *testing.T) {
	e := newEnv(t)
	perine, garnier := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier")
	e.grant(perineDoctor, enums.ProfilePrescriberPhysician, prescriber, "")
	e.grant(perineDoctor, enums.ProfileReceiverPhysician, "", "Maison médicale Jeanne Garnier")

	// Diaconesses (the doctor's prescribing structure) sends one request to
	// both units, and one to Sainte-Périne only.
	dispatches := map[string][]string{} // unit → dispatch ids
	var diaconesses string
	send := func(who string, units ...string) {
		id := e.readyRequest(who)
		if len(units) == 2 {
			diaconesses = id
		}
		sent := e.must(who, "Send", map[string]any{"requestId": id, "unitIds": units})
		for _, d := range get(sent, "sendAdmissionRequest.dispatches").([]any) {
			dispatches[str(d, "unit.id")] = append(dispatches[str(d, "unit.id")], str(d, "id"))
		}
	}
	send(prescriber, perine, garnier)
	send(prescriber, perine)

	inbox := func(unit string) (ids []string, total float64) {
		d := e.must(perineDoctor, "Inbox", map[string]any{"unitId": unit, "first": 50})
		for _, edge := range get(d, "inbox.edges").([]any) {
			ids = append(ids, str(edge, "node.id"))
			if str(edge, "node.request.patient.birthName") == "" {
				t.Errorf("%s: an inbox row without its patient: %v", unit, edge)
			}
		}
		total, _ = get(d, "inbox.totalCount").(float64)
		return ids, total
	}
	for unit, name := range map[string]string{perine: "Sainte-Périne", garnier: "Jeanne Garnier"} {
		got, total := inbox(unit)
		slices.Sort(got)
		want := slices.Sorted(slices.Values(dispatches[unit]))
		if !slices.Equal(got, want) || total != float64(len(want)) {
			t.Errorf("inbox of %s: %v (totalCount %v), want %v", name, got, total, want)
		}
	}

	// As a prescriber, the same account still sees both dispatches of its
	// structure's request: the narrowing is the inbox's, not the account's.
	d := e.must(perineDoctor, "Request", map[string]any{"id": diaconesses})
	if n := len(get(d, "node.dispatches").([]any)); n != 2 {
		t.Fatalf("prescriber view of the request: %d dispatches, want 2: %v", n, d)
	}
}

// TestWithdrawnUnitReadsWhatItReceived: after its dispatch closed, a unit
// still reads the sections as it had received them, but not a section
// changed since — that would show it what it never received. The row rule
// hides the section (rule.SectionVisible): null, as a row one may not see.
func TestWithdrawnUnitReadsWhatItReceived(t *testing.T) {
	e := newEnv(t)
	perine, garnier := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier")
	id, dispatchOf := e.sentRequest(perine, garnier)
	read := func(who string) result { return e.op(who, "Request", map[string]any{"id": id}) }
	const first = "Adénocarcinome pancréatique métastatique"

	e.must(prescriber, "Withdraw", map[string]any{"dispatchId": dispatchOf[garnier]})
	r := read(garnierDoc)
	if len(r.Errors) > 0 || str(r.Data, "node.medical.diagnosis") != first || str(r.Data, "node.careProject.state") == "" {
		t.Fatalf("the withdrawn unit must keep what it had received: %v %+v", r.Data, r.Errors)
	}

	e.must(careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{"diagnosis": "Diagnostic revu après le retrait"}})
	r = read(garnierDoc)
	if get(r.Data, "node.medical") != nil || strings.Contains(fmt.Sprint(r.Data), "revu après") {
		t.Fatalf("the withdrawn unit read a section changed after its withdrawal: %v", r.Data)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("a section hidden by the row rules reads as null, without error: %+v", r.Errors)
	}
	if str(r.Data, "node.careProject.state") == "" || str(r.Data, "node.id") != id {
		t.Fatalf("the unchanged sections and the request stay readable: %v", r.Data)
	}

	// The unit still in play, and the requesting side, read the change.
	for _, who := range []string{perineDoctor, prescriber} {
		if got := str(e.must(who, "Request", map[string]any{"id": id}), "node.medical.diagnosis"); got != "Diagnostic revu après le retrait" {
			t.Fatalf("%s reads %q", who, got)
		}
	}
}

// sentRequest is a ready request of Diaconesses sent to the units, with its
// dispatch per unit.
func (e *env) sentRequest(units ...string) (id string, dispatchOf map[string]string) {
	e.t.Helper()
	id = e.readyRequest(prescriber)
	sent := e.must(prescriber, "Send", map[string]any{"requestId": id, "unitIds": units})
	dispatchOf = map[string]string{}
	for _, d := range get(sent, "sendAdmissionRequest.dispatches").([]any) {
		dispatchOf[str(d, "unit.id")] = str(d, "id")
	}
	return id, dispatchOf
}
