package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"passerelle/ent/accesslog"
	"passerelle/enums"
	"passerelle/viewer"
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
// still reads the sections as it had received them — also once the
// requesting side has changed them since (the version it received is kept:
// workflow.keepReceived) — and never a later version; through node(id:) and
// through a list (which the direct reads leave to the resolvers then).
func TestWithdrawnUnitReadsWhatItReceived(t *testing.T) {
	e := newEnv(t)
	perine, garnier, forcilles := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier"), e.unitID("USP Forcilles")
	id, dispatchOf := e.sentRequest(perine, garnier, forcilles)
	const first, second, third = "Adénocarcinome pancréatique métastatique", "Diagnostic revu après le retrait", "Diagnostic revu une seconde fois"
	// The list's selection is one the direct reads serve (graph/direct).
	const sections = `medical { state diagnosis ppsScore } careProject { state dependence } adminSocial { state city }`
	node := `query Q($id: ID!) { node(id: $id) { ... on AdmissionRequest { id ` + sections + ` } } }`
	list := `{ admissionRequests(first: 50) { totalCount edges { node { id ` + sections + ` } } } }`
	// read is the request as who reads it, through node(id:) and through the
	// list, which must agree.
	read := func(who string) map[string]any {
		t.Helper()
		one := e.post(e.token(who), node, "", map[string]any{"id": id})
		many := e.post(e.token(who), list, "", nil)
		if len(one.Errors) > 0 || len(many.Errors) > 0 {
			t.Fatalf("%s: %+v %+v", who, one.Errors, many.Errors)
		}
		var inList map[string]any
		for _, edge := range get(many.Data, "admissionRequests.edges").([]any) {
			if str(edge, "node.id") == id {
				inList = get(edge, "node").(map[string]any)
			}
		}
		if got, want := fmt.Sprint(inList), fmt.Sprint(get(one.Data, "node")); got != want {
			t.Fatalf("%s reads the request otherwise in a list:\nlist: %s\nnode: %s", who, got, want)
		}
		return get(one.Data, "node").(map[string]any)
	}
	diagnosis := func(who string) string { return str(read(who), "medical.diagnosis") }
	edit := func(diagnosis, dependence string) {
		e.must(careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{"diagnosis": diagnosis}})
		e.must(careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"dependence": dependence}})
	}

	e.must(prescriber, "Withdraw", map[string]any{"dispatchId": dispatchOf[garnier]})
	received := read(garnierDoc)
	if str(received, "medical.diagnosis") != first {
		t.Fatalf("the withdrawn unit must keep what it had received: %v", received)
	}
	validator := `query Q($id: ID!) { node(id: $id) { ... on AdmissionRequest { medical { validatedBy { email } } } } }`
	checkValidator := func(want string) {
		t.Helper()
		r := e.post(e.token(garnierDoc), validator, "", map[string]any{"id": id})
		if got := str(r.Data, "node.medical.validatedBy.email"); got != want || len(r.Errors) > 0 {
			t.Fatalf("validatedBy: %q, want %q (%+v)", got, want, r.Errors)
		}
	}
	checkValidator(prescriber)

	// Changed after Jeanne Garnier's withdrawal, validated again, then
	// Forcilles withdrawn: each unit keeps its own version.
	edit(second, "Partielle")
	e.must(prescriber, "ValidateMedical", map[string]any{"requestId": id})
	e.must(prescriber, "Withdraw", map[string]any{"dispatchId": dispatchOf[forcilles]})
	edit(third, "Totale")
	if got := read(garnierDoc); fmt.Sprint(got) != fmt.Sprint(received) {
		t.Fatalf("the withdrawn unit must read the sections as it received them:\nnow %v\nwas %v", got, received)
	}
	checkValidator(prescriber) // of the kept version, which is not attached to a client

	// A kept medical section is read under the same field rule and logged
	// like the section itself: Pompidou's prescriber, made receiving staff
	// of Jeanne Garnier, reads the kept care section, not the medical one.
	e.grant(pompidou, enums.ProfileReceiverStaff, "", "Maison médicale Jeanne Garnier")
	staff := e.post(e.token(pompidou), node, "", map[string]any{"id": id})
	if str(staff.Data, "node.careProject.dependence") != "Aide totale pour la toilette" || get(staff.Data, "node.medical") != nil ||
		staff.code() != "FORBIDDEN" || fmt.Sprint(staff.Errors[0].Path) != "[node medical]" {
		t.Fatalf("receiving staff and a kept medical section: %v %+v", staff.Data, staff.Errors)
	}
	logged := func() int {
		n, err := e.app.DB.Client.AccessLog.Query().Where(accesslog.KindEQ("MEDICAL_SECTION_READ"),
			accesslog.RequestID(uuid.MustParse(id))).Count(viewer.System(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := logged()
	read(garnierDoc) // node and list: two readings of the kept medical section
	if n := logged() - before; n != 2 {
		t.Fatalf("reading a kept medical section twice logged %d readings", n)
	}
	if got := read(forcillesDoc); str(got, "medical.diagnosis") != second || str(got, "medical.state") != "VALIDATED" ||
		str(got, "careProject.dependence") != "Partielle" || str(got, "adminSocial.city") != "Paris" {
		t.Fatalf("Forcilles must read what it had received at its withdrawal: %v", got)
	}
	// The unit still in play, and the requesting side, read the change.
	for _, who := range []string{perineDoctor, prescriber} {
		if got := diagnosis(who); got != third {
			t.Fatalf("%s reads %q", who, got)
		}
	}

	// A cancellation closes Sainte-Périne's dispatch: it keeps the last
	// version, and an edit after it (none is allowed now) could not change
	// that; the withdrawn units keep theirs.
	e.must(prescriber, "Cancel", map[string]any{"requestId": id, "reason": "PATIENT_DECEASED"})
	for who, want := range map[string]string{perineDoctor: third, forcillesDoc: second, garnierDoc: first} {
		if got := diagnosis(who); got != want {
			t.Fatalf("after the cancellation %s reads %q, want %q", who, got, want)
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
