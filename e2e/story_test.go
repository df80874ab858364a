package e2e

import (
	"slices"
	"testing"
	"time"
)

// draftRequest creates a request as who on Hôpital des Diaconesses.
func (e *env) draftRequest(who string) string {
	e.t.Helper()
	d := e.must(who, "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": e.structureID(prescriber),
		"urgency":           "WITHIN_WEEK",
		"patient": map[string]any{
			"birthName": "Durand", "firstName": "Élise", "birthDate": "1948-03-12", "sex": "FEMALE",
		},
	}})
	return str(d, "createAdmissionRequest.request.id")
}

// readyRequest fills and validates every section: ready to send.
func (e *env) readyRequest(who string) string {
	e.t.Helper()
	id := e.draftRequest(who)
	e.must(careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{
		"diagnosis": "Adénocarcinome pancréatique métastatique", "ppsScore": 30, "prognosis": "WEEKS",
		"patientInformedOfDiagnosis": "YES", "patientAgreesToUsp": true,
		"pallia10": []bool{true, true, true, false, false, true, false, false, false, false},
	}})
	e.must(careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{
		"stayGoal": "SYMPTOM_CONTROL", "dependence": "Aide totale pour la toilette"}})
	e.must(careTeam, "SaveAdminSocial", map[string]any{"requestId": id, "input": map[string]any{
		"address": "12 rue des Lilas", "postalCode": "75012", "city": "Paris", "personToNotify": "Fille"}})
	e.must(prescriber, "ValidateMedical", map[string]any{"requestId": id})
	return id
}

// TestWholeStory plays the story through the contract documents,
// unchanged, as the demo accounts.
func TestWholeStory(t *testing.T) {
	e := newEnv(t)
	perine, garnier, forcilles := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier"), e.unitID("USP Forcilles")

	desired := time.Now().AddDate(0, 0, 2).Format(time.DateOnly)
	created := e.must(careTeam, "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": e.structureID(prescriber), "urgency": "WITHIN_48H", "desiredAdmissionDate": desired,
		"patient": map[string]any{"birthName": "Martin", "firstName": "Jeanne", "birthDate": "1940-05-01", "sex": "FEMALE"},
	}})
	id := str(created, "createAdmissionRequest.request.id")
	if st := str(created, "createAdmissionRequest.request.status"); st != "DRAFT" {
		t.Fatalf("new request is %s", st)
	}
	if ref := str(created, "createAdmissionRequest.request.reference"); len(ref) != len("USP-2026-000001") {
		t.Fatalf("reference %q", ref)
	}
	if get(created, "createAdmissionRequest.duplicateWarning") != false {
		t.Fatal("a first request is no duplicate")
	}

	med := e.must(careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{
		"diagnosis": "Cancer bronchique", "ppsScore": 40}})
	if s := str(med, "saveMedicalSection.medical.state"); s != "IN_PROGRESS" {
		t.Fatalf("partial medical section is %s", s)
	}
	med = e.must(careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{
		"prognosis": "WEEKS", "patientInformedOfDiagnosis": "PARTIAL", "patientAgreesToUsp": true}})
	if s := str(med, "saveMedicalSection.medical.state"); s != "COMPLETE" {
		t.Fatalf("medical section is %s", s)
	}
	if d := str(med, "saveMedicalSection.medical.diagnosis"); d != "Cancer bronchique" {
		t.Fatalf("a partial update lost the diagnosis: %q", d)
	}
	e.must(careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"stayGoal": "END_OF_LIFE"}})
	e.must(careTeam, "SaveAdminSocial", map[string]any{"requestId": id, "input": map[string]any{
		"address": "3 rue Oberkampf", "postalCode": "75011", "city": "Paris"}})

	if r := e.op(careTeam, "ValidateMedical", map[string]any{"requestId": id}); r.code() != "FORBIDDEN" {
		t.Fatalf("CARE_TEAM validating: %+v", r.Errors)
	}
	val := e.must(prescriber, "ValidateMedical", map[string]any{"requestId": id})
	if s := str(val, "validateMedicalSection.medical.state"); s != "VALIDATED" {
		t.Fatalf("validated section is %s", s)
	}

	sent := e.must(careTeam, "Send", map[string]any{"requestId": id, "unitIds": []string{perine, garnier, forcilles}})
	if s := str(sent, "sendAdmissionRequest.status"); s != "SENT" {
		t.Fatalf("sent request is %s", s)
	}
	dispatchOf := map[string]string{}
	for _, d := range get(sent, "sendAdmissionRequest.dispatches").([]any) {
		dispatchOf[str(d, "unit.id")] = str(d, "id")
		if str(d, "status") != "PENDING" {
			t.Fatalf("new dispatch is %s", str(d, "status"))
		}
	}

	// Forcilles refuses.
	e.must(forcillesDoc, "OpenDispatch", map[string]any{"dispatchId": dispatchOf[forcilles]})
	if r := e.op(forcillesDoc, "Answer", map[string]any{"dispatchId": dispatchOf[forcilles], "input": map[string]any{"decision": "REFUSE"}}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("refusal without reason: %+v", r.Errors)
	}
	e.must(forcillesDoc, "Answer", map[string]any{"dispatchId": dispatchOf[forcilles], "input": map[string]any{
		"decision": "REFUSE", "refusalReason": "NO_BED_IN_TIME", "comment": "Pas de lit avant 10 jours"}})

	// Sainte-Périne asks for information, the prescriber answers.
	opened := e.must(perineStaff, "OpenDispatch", map[string]any{"dispatchId": dispatchOf[perine]})
	if str(opened, "openDispatch.status") != "READ" || get(opened, "openDispatch.readAt") == nil {
		t.Fatalf("opened dispatch: %v", opened)
	}
	asked := e.must(perineStaff, "AskInformation", map[string]any{"dispatchId": dispatchOf[perine], "question": "Une PCA est-elle en place ?"})
	if str(asked, "requestInformation.status") != "INFO_REQUESTED" {
		t.Fatalf("asked: %v", asked)
	}
	if r := e.op(perineStaff, "Answer", map[string]any{"dispatchId": dispatchOf[perine], "input": map[string]any{"decision": "ACCEPT"}}); r.code() != "FORBIDDEN" {
		t.Fatalf("RECEIVER_STAFF answering: %+v", r.Errors)
	}
	msg := e.must(prescriber, "PostMessage", map[string]any{"dispatchId": dispatchOf[perine], "body": "Oui, PCA de morphine depuis hier."})
	if str(msg, "postMessage.status") != "READ" || len(get(msg, "postMessage.messages").([]any)) != 2 {
		t.Fatalf("answered: %v", msg)
	}

	// Two accept.
	e.must(perineDoctor, "Answer", map[string]any{"dispatchId": dispatchOf[perine], "input": map[string]any{
		"decision": "ACCEPT", "proposedAdmissionDate": time.Now().AddDate(0, 0, 1).Format(time.DateOnly)}})
	e.must(garnierDoc, "OpenDispatch", map[string]any{"dispatchId": dispatchOf[garnier]})
	e.must(garnierDoc, "Answer", map[string]any{"dispatchId": dispatchOf[garnier], "input": map[string]any{
		"decision": "ACCEPT_WITH_RESERVATION", "comment": "Sous réserve d'un lit libéré jeudi"}})

	// A receiver sees the request, its own dispatch only.
	seen := e.must(garnierDoc, "Request", map[string]any{"id": id})
	if ds := get(seen, "node.dispatches").([]any); len(ds) != 1 || str(ds[0], "id") != dispatchOf[garnier] {
		t.Fatalf("Jeanne Garnier sees dispatches %v", ds)
	}

	// Confirm Sainte-Périne: Jeanne Garnier is withdrawn.
	conf := e.must(prescriber, "Confirm", map[string]any{"dispatchId": dispatchOf[perine]})
	if str(conf, "confirmDispatch.status") != "CONFIRMED" || str(conf, "confirmDispatch.request.status") != "CONFIRMED" {
		t.Fatalf("confirm: %v", conf)
	}
	statuses := map[string]string{}
	for _, d := range get(conf, "confirmDispatch.request.dispatches").([]any) {
		statuses[str(d, "id")] = str(d, "status")
	}
	want := map[string]string{dispatchOf[perine]: "CONFIRMED", dispatchOf[garnier]: "WITHDRAWN", dispatchOf[forcilles]: "REFUSED"}
	for k, v := range want {
		if statuses[k] != v {
			t.Fatalf("after confirm: %v, want %v", statuses, want)
		}
	}

	admittedAt := time.Now().UTC()
	adm := e.must(perineDoctor, "RecordAdmission", map[string]any{"dispatchId": dispatchOf[perine], "admittedAt": admittedAt.Format(time.RFC3339)})
	if str(adm, "recordAdmission.status") != "ADMITTED" || str(adm, "recordAdmission.request.status") != "ADMITTED" {
		t.Fatalf("admission: %v", adm)
	}

	// The observatory's figures count it: admitted earlier than wished, by
	// the days between the wished date and the admission's day in Paris.
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	wished, _ := time.Parse(time.DateOnly, desired)
	day, _ := time.Parse(time.DateOnly, admittedAt.In(paris).Format(time.DateOnly))
	st := e.post(e.token(observer), `{ admissionStatistics { admitted medianDesiredToAdmissionDays } }`, "", nil)
	if got := get(st.Data, "admissionStatistics.medianDesiredToAdmissionDays"); len(st.Errors) > 0 ||
		get(st.Data, "admissionStatistics.admitted") != 1.0 || got != day.Sub(wished).Hours()/24 {
		t.Fatalf("statistics after the admission: %v %+v (want %v days)", st.Data, st.Errors, day.Sub(wished).Hours()/24)
	}

	tl := e.must(prescriber, "Timeline", map[string]any{"id": id})
	var types []string
	for _, ev := range get(tl, "node.events").([]any) {
		types = append(types, str(ev, "type"))
		if str(ev, "actor.id") == "" {
			t.Fatalf("event without actor: %v", ev)
		}
	}
	wantTypes := []string{
		"REQUEST_CREATED", "SECTION_UPDATED", "SECTION_UPDATED", "SECTION_UPDATED", "SECTION_UPDATED", "MEDICAL_VALIDATED",
		"REQUEST_SENT", "REQUEST_SENT", "REQUEST_SENT",
		"DISPATCH_READ", "DISPATCH_REFUSED", "DISPATCH_READ", "INFORMATION_REQUESTED", "MESSAGE_POSTED",
		"DISPATCH_ACCEPTED", "DISPATCH_READ", "DISPATCH_ACCEPTED", "DISPATCH_CONFIRMED", "DISPATCH_WITHDRAWN", "PATIENT_ADMITTED",
	}
	if !slices.Equal(types, wantTypes) {
		t.Fatalf("timeline:\n got %v\nwant %v", types, wantTypes)
	}
}

// TestPallia10Reading: the medical section says what its PALLIA-10 answers
// suggest (workflow.Pallia10).
func TestPallia10Reading(t *testing.T) {
	e := newEnv(t)
	id := e.draftRequest(careTeam)
	// PALLIA-10: item 1 (incurable disease) and two more yes suggest a
	// specialised palliative team; without item 1 they would not.
	const pallia = `mutation P($id: ID!, $answers: [Boolean!]) {
  saveMedicalSection(requestId: $id, input: {pallia10: $answers}) { medical { pallia10Yes pallia10SuggestsPalliativeTeam } }
}`
	for _, c := range []struct {
		answers  []bool
		yes      float64
		suggests bool
	}{
		{[]bool{false, true, true, true, false, false, false, false, false, false}, 3, false},
		{[]bool{true, true, false, true, false, false, false, false, false, false}, 3, true},
	} {
		r := e.post(e.token(careTeam), pallia, "", map[string]any{"id": id, "answers": c.answers})
		if get(r.Data, "saveMedicalSection.medical.pallia10Yes") != c.yes ||
			get(r.Data, "saveMedicalSection.medical.pallia10SuggestsPalliativeTeam") != c.suggests {
			t.Fatalf("PALLIA-10 %v: %v %+v", c.answers, r.Data, r.Errors)
		}
	}
}
