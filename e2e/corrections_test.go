package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// correctionDoc corrects a request and reads back what a client shows.
const correctionDoc = `mutation U($id: ID!, $input: UpdateAdmissionRequestInput!, $version: Int) {
  updateAdmissionRequest(requestId: $id, input: $input, expectedVersion: $version) {
    duplicateWarning
    request {
      id status urgency desiredAdmissionDate version
      patient { birthName usedName firstName birthDate sex birthPlace ins }
    }
  }
}`

// TestCorrectARequest: the urgency, the wished date and the patient's
// identity can be corrected after creation — on a draft, and on a sent
// request whose units are told — with the checks of a creation, the events
// naming the fields (not their values), and the duplicate check following
// the corrected identity.
func TestCorrectARequest(t *testing.T) {
	e := newEnv(t)
	perine, garnier := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier")
	correct := func(who, id string, input map[string]any) result {
		return e.post(e.token(who), correctionDoc, "", map[string]any{"id": id, "input": input})
	}

	// A draft: a typo in the birth name, the urgency raised, a wished date.
	draft := e.draftRequest(careTeam) // Durand Élise, 1948-03-12, FEMALE
	wished := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	r := correct(careTeam, draft, map[string]any{"urgency": "WITHIN_48H", "desiredAdmissionDate": wished,
		"patient": map[string]any{"birthName": "  Duran ", "firstName": "Élise", "birthPlace": "Lyon", "ins": "2 48 03 69 123 456 26"}})
	if len(r.Errors) > 0 {
		t.Fatalf("correction refused: %+v", r.Errors)
	}
	got := get(r.Data, "updateAdmissionRequest.request").(map[string]any)
	if str(got, "urgency") != "WITHIN_48H" || str(got, "desiredAdmissionDate") != wished ||
		str(got, "patient.birthName") != "Duran" || str(got, "patient.firstName") != "Élise" ||
		str(got, "patient.birthPlace") != "Lyon" || str(got, "patient.ins") != "248036912345626" {
		t.Fatalf("corrected request: %v", got)
	}
	if get(r.Data, "updateAdmissionRequest.duplicateWarning") != false {
		t.Fatalf("no other request for this patient: %v", r.Data)
	}
	// A new request for the corrected identity is a duplicate of it.
	dup := e.must(prescriber, "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": e.structureID(prescriber), "urgency": "PLANNED",
		"patient": map[string]any{"birthName": "DURAN", "firstName": "Elise", "birthDate": "1948-03-12", "sex": "FEMALE"}}})
	if get(dup, "createAdmissionRequest.duplicateWarning") != true {
		t.Fatalf("the corrected identity must be checked for duplicates: %v", dup)
	}
	// And a correction that makes an identity another request's says so,
	// without disclosing it; one that leaves the identity alone checks nothing.
	other := str(e.must(careTeam, "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": e.structureID(prescriber), "urgency": "PLANNED",
		"patient": map[string]any{"birthName": "Durant", "firstName": "Élise", "birthDate": "1948-03-12", "sex": "FEMALE"}}}),
		"createAdmissionRequest.request.id")
	r = correct(careTeam, other, map[string]any{"patient": map[string]any{"birthName": "Duran"}})
	if get(r.Data, "updateAdmissionRequest.duplicateWarning") != true || strings.Contains(fmt.Sprint(r.Data), draft) {
		t.Fatalf("a correction into a duplicate: %v %+v", r.Data, r.Errors)
	}
	if r := correct(careTeam, other, map[string]any{"urgency": "WITHIN_WEEK"}); get(r.Data, "updateAdmissionRequest.duplicateWarning") != false {
		t.Fatalf("no identity change, no warning: %v %+v", r.Data, r.Errors)
	}
	e.must(prescriber, "Cancel", map[string]any{"requestId": other, "reason": "DUPLICATE_OR_ERROR"})
	e.must(prescriber, "Cancel", map[string]any{"requestId": str(dup, "createAdmissionRequest.request.id"), "reason": "DUPLICATE_OR_ERROR"})
	// Optional fields are removed with null (or an empty string).
	// A field given the value it has is not named (the urgency here).
	r = correct(careTeam, draft, map[string]any{"urgency": "WITHIN_48H", "desiredAdmissionDate": nil,
		"patient": map[string]any{"birthPlace": " ", "ins": nil}})
	if got := get(r.Data, "updateAdmissionRequest.request"); len(r.Errors) > 0 || get(got, "desiredAdmissionDate") != nil ||
		get(got, "patient.birthPlace") != nil || get(got, "patient.ins") != nil {
		t.Fatalf("clearing optional fields: %v %+v", r.Data, r.Errors)
	}
	// A correction whose every value is already there changes nothing: the
	// same version, no event, no identity kept (checked below).
	version := get(r.Data, "updateAdmissionRequest.request.version")
	r = correct(careTeam, draft, map[string]any{"urgency": "WITHIN_48H", "desiredAdmissionDate": nil,
		"patient": map[string]any{"birthName": "Duran ", "firstName": "Élise", "birthDate": "1948-03-12", "sex": "FEMALE", "usedName": "", "ins": nil}})
	if got := get(r.Data, "updateAdmissionRequest.request"); len(r.Errors) > 0 || get(got, "version") != version ||
		str(got, "patient.birthName") != "Duran" || str(got, "urgency") != "WITHIN_48H" {
		t.Fatalf("a correction to the same values: %v %+v", r.Data, r.Errors)
	}

	// The requesting side reads the identities each correction replaced,
	// most recent first, with who corrected them.
	const history = `query H($id: ID!) { node(id: $id) { ... on AdmissionRequest {
  identityCorrections { correctedAt correctedBy { email } before { birthName birthPlace ins } } } } }`
	h := e.post(e.token(prescriber), history, "", map[string]any{"id": draft})
	hs, _ := get(h.Data, "node.identityCorrections").([]any)
	if len(h.Errors) > 0 || len(hs) != 2 || str(hs[0], "before.birthPlace") != "Lyon" || str(hs[0], "before.ins") != "248036912345626" ||
		str(hs[1], "before.birthName") != "Durand" || get(hs[1], "before.birthPlace") != nil ||
		str(hs[0], "correctedBy.email") != careTeam || str(hs[1], "correctedBy.email") != careTeam ||
		str(hs[0], "correctedAt") < str(hs[1], "correctedAt") {
		t.Fatalf("identity corrections: %v %+v", h.Data, h.Errors)
	}

	// Refused as a creation would be, with the field at fault.
	for name, c := range map[string]struct {
		input map[string]any
		field string
	}{
		"nothing":          {map[string]any{}, "input"},
		"no urgency":       {map[string]any{"urgency": nil}, "input.urgency"},
		"past wished date": {map[string]any{"desiredAdmissionDate": "2020-01-01"}, "input.desiredAdmissionDate"},
		"no birth name":    {map[string]any{"patient": map[string]any{"birthName": nil}}, "input.patient.birthName"},
		"empty first name": {map[string]any{"patient": map[string]any{"firstName": "  "}}, "input.patient.firstName"},
		"born tomorrow":    {map[string]any{"patient": map[string]any{"birthDate": time.Now().AddDate(0, 0, 2).Format(time.DateOnly)}}, "input.patient.birthDate"},
		"bad INS key":      {map[string]any{"patient": map[string]any{"ins": "248036912345627"}}, "input.patient.ins"},
		"long used name":   {map[string]any{"patient": map[string]any{"usedName": strings.Repeat("A", 101)}}, "input.patient.usedName"},
		"long birth place": {map[string]any{"patient": map[string]any{"birthPlace": strings.Repeat("é", 101)}}, "input.patient.birthPlace"},
	} {
		r := correct(careTeam, draft, c.input)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != c.field {
			t.Errorf("%s: want BAD_USER_INPUT on %s, got %+v", name, c.field, r.Errors)
		}
	}
	// A stale version is a conflict.
	if r := e.post(e.token(careTeam), correctionDoc, "", map[string]any{"id": draft, "version": 0,
		"input": map[string]any{"urgency": "PLANNED"}}); r.code() != "CONFLICT" {
		t.Fatalf("stale version: %+v", r.Errors)
	}

	// The timeline names what changed (CorrectedField values, labelled in
	// French by enumLabels), never the values.
	events := get(e.must(prescriber, "Timeline", map[string]any{"id": draft}), "node.events").([]any)
	tl := e.post(e.token(prescriber), `query T($id: ID!) { node(id: $id) { ... on AdmissionRequest { events { type section reason } } } }`,
		"", map[string]any{"id": draft})
	var seen []string
	for _, ev := range get(tl.Data, "node.events").([]any) {
		if reason := str(ev, "reason"); reason != "" {
			seen = append(seen, str(ev, "type")+" "+str(ev, "section")+" "+reason)
			if strings.Contains(reason, "Duran") || strings.Contains(reason, "Lyon") {
				t.Fatalf("an event carries patient data: %v", ev)
			}
		}
	}
	want := []string{
		"REQUEST_UPDATED  URGENCY,DESIRED_ADMISSION_DATE", "SECTION_UPDATED ADMIN_SOCIAL PATIENT_BIRTH_NAME,PATIENT_BIRTH_PLACE,PATIENT_INS",
		"REQUEST_UPDATED  DESIRED_ADMISSION_DATE", "SECTION_UPDATED ADMIN_SOCIAL PATIENT_BIRTH_PLACE,PATIENT_INS",
	}
	if !slices.Equal(seen, want) || len(events) != 5 {
		t.Fatalf("events:\n got %q (%d events)\nwant %q", seen, len(events), want)
	}

	// Sent to two units, one withdrawn: the open one is told (its question
	// answered), and both read the corrected identity.
	id, dispatchOf := e.sentRequest(perine, garnier)
	e.must(perineDoctor, "AskInformation", map[string]any{"dispatchId": dispatchOf[perine], "question": "Nom d'usage ?"})
	e.must(prescriber, "Withdraw", map[string]any{"dispatchId": dispatchOf[garnier]})
	if r := correct(adminSocial, id, map[string]any{"patient": map[string]any{"usedName": "Martin"}}); len(r.Errors) > 0 {
		t.Fatalf("the administrative manager corrects the identity: %+v", r.Errors)
	}
	inbox := e.must(perineDoctor, "Inbox", map[string]any{"unitId": perine, "first": 5})
	for _, edge := range get(inbox, "inbox.edges").([]any) {
		if str(edge, "node.id") == dispatchOf[perine] && str(edge, "node.status") != "READ" {
			t.Fatalf("the question is answered by the correction: %v", edge)
		}
	}
	for _, who := range []string{perineDoctor, garnierDoc} {
		p := e.post(e.token(who), `query Q($id: ID!) { node(id: $id) { ... on AdmissionRequest { patient { usedName } identityCorrections { correctedAt } } } }`, "",
			map[string]any{"id": id})
		if got := str(p.Data, "node.patient.usedName"); got != "Martin" {
			t.Fatalf("%s reads the used name %q", who, got)
		}
		// The former identity is the requesting side's trace, not the units'.
		if got, _ := get(p.Data, "node.identityCorrections").([]any); len(p.Errors) > 0 || got == nil || len(got) != 0 {
			t.Fatalf("%s reads the identity corrections: %v %+v", who, p.Data, p.Errors)
		}
	}
	// Values already there do not make a correction anyone's to send: a
	// unit's physician is refused as for a change.
	if r := correct(perineDoctor, id, map[string]any{"patient": map[string]any{"usedName": "Martin"}}); r.code() != "FORBIDDEN" {
		t.Fatalf("a unit's physician sends the identity it reads: %v %+v", r.Data, r.Errors)
	}
	h = e.post(e.token(prescriber), history, "", map[string]any{"id": id})
	if hs, _ := get(h.Data, "node.identityCorrections").([]any); len(hs) != 1 || str(hs[0], "correctedBy.email") != adminSocial {
		t.Fatalf("the requesting side's trace of the correction: %v %+v", h.Data, h.Errors)
	}

	// Not once the request is cancelled.
	e.must(prescriber, "Cancel", map[string]any{"requestId": id, "reason": "PATIENT_DECEASED"})
	if r := correct(prescriber, id, map[string]any{"urgency": "PLANNED"}); r.code() != "CONFLICT" {
		t.Fatalf("correcting a cancelled request: %+v", r.Errors)
	}
}
