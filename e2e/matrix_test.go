package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"passerelle/app"
	"passerelle/graph"
	"passerelle/server"
	"passerelle/store"
	"passerelle/store/storetest"
)

// mxNewEnv is newEnv without the per-user mutation rate limit: these tests
// make hundreds of changes per account within seconds, and the limit is not
// what they test.
func mxNewEnv(t *testing.T) *env {
	t.Helper()
	a, err := app.New(context.Background(), app.Config{
		Store:  store.Config{DatabaseURL: storetest.DatabaseURL(t)},
		Server: server.Config{EnableIntrospection: true},
		Limits: graph.Limits{MutationsPerMinute: 1 << 20, MutationBurst: 1 << 20},
		Demo:   true,
		Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &env{t: t, app: a, srv: srv, tokens: map[string]string{}}
}

// Outcomes of one operation for one account.
const (
	mxOK = "ok"        // served without error
	mxFB = "FORBIDDEN" // the viewer sees the row but may not do this
	mxNF = "NOT_FOUND" // the viewer may not see the row (node: null data)
	// mxNoMed: the request is served, its medical section is null with a
	// FORBIDDEN error whose path ends in "medical"; the other sections are
	// served.
	mxNoMed = "ok, medical FORBIDDEN"
)

// mxAccounts are the columns of the matrix: every demo account.
var mxAccounts = [14]string{
	prescriber, careTeam, adminSocial, referent, pompidou, coordinator, nonMedical,
	liberal, perineDoctor, perineStaff, garnierDoc, forcillesDoc, support, observer,
}

// mxRow is one operation of the client contract and its outcome for each
// account, in the order of mxAccounts.
type mxRow struct {
	op   string
	want [14]string
}

// profileMatrix is the profile rule table of the domain brief as seen
// through the client contract. Unless said otherwise the operation targets
// R, a request of Hôpital des Diaconesses sent to USP Sainte-Périne and
// Maison médicale Jeanne Garnier (not to USP Forcilles), or D, R's dispatch
// to Sainte-Périne.
var profileMatrix = []mxRow{
	//                           presc  soign  gest    ref   pomp  coord nonMed  lib   pDoc    pStaff  garn  forc  supp  obs
	{"CreateRequest" /*       */, [14]string{mxOK, mxOK, mxOK, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB}},
	{"Request (unsent draft)", [14]string{mxOK, mxOK, mxNoMed, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF}},
	{"SaveMedical" /*         */, [14]string{mxOK, mxOK, mxFB, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxFB, mxNF, mxNF, mxNF}},
	{"ValidateMedical" /*     */, [14]string{mxOK, mxFB, mxFB, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxFB, mxNF, mxNF, mxNF}},
	{"SaveCareProject" /*     */, [14]string{mxOK, mxOK, mxFB, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxFB, mxNF, mxNF, mxNF}},
	{"SaveAdminSocial" /*     */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxFB, mxNF, mxNF, mxNF}},
	{"Send (draft)" /*        */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF}},
	{"Send (more units)" /*   */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxFB, mxNF, mxNF, mxNF}},
	{"Request" /*             */, [14]string{mxOK, mxOK, mxNoMed, mxNF, mxNF, mxNF, mxNF, mxNF, mxOK, mxNoMed, mxOK, mxNF, mxNF, mxNF}},
	{"Inbox" /*               */, [14]string{mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxNF, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF}},
	{"OpenDispatch" /*        */, [14]string{mxFB, mxFB, mxFB, mxNF, mxNF, mxNF, mxNF, mxNF, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF}},
	{"AskInformation" /*      */, [14]string{mxFB, mxFB, mxFB, mxNF, mxNF, mxNF, mxNF, mxNF, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF}},
	{"PostMessage" /*         */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF}},
	{"Answer" /*              */, [14]string{mxFB, mxFB, mxFB, mxNF, mxNF, mxNF, mxNF, mxNF, mxOK, mxFB, mxNF, mxNF, mxNF, mxNF}},
	{"Confirm" /*             */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxNF, mxNF, mxNF, mxNF}},
	{"Withdraw" /*            */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxNF, mxNF, mxNF, mxNF}},
	{"Cancel" /*              */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxFB, mxNF, mxNF, mxNF}},
	{"UpdateRequest (urgency)", [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxFB, mxNF, mxNF, mxNF}},
	{"UpdateRequest (identity)", [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxFB, mxFB, mxFB, mxNF, mxNF, mxNF}},
	{"RecordAdmission" /*     */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF}},
	{"Timeline" /*            */, [14]string{mxOK, mxOK, mxOK, mxNF, mxNF, mxNF, mxNF, mxNF, mxOK, mxOK, mxOK, mxNF, mxNF, mxNF}},
	{"Statistics" /*          */, [14]string{mxFB, mxFB, mxFB, mxOK, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxFB, mxOK}},
}

// mxKnownBugs are cells where the product is known to differ from the
// expectation above (which stays the correct one): "op/account" → why.
var mxKnownBugs = map[string]string{}

// mxWorld holds the demo ids every fixture needs.
type mxWorld struct {
	diaconesses, dac           string
	perine, garnier, forcilles string
}

// mxFix is the state an operation runs on.
type mxFix struct {
	request  string // R (or a draft)
	dispatch string // D
}

// mxOp says how to prepare and run one operation of the matrix.
type mxOp struct {
	setup func(e *env, w mxWorld) mxFix
	// readOnly: one fixture serves every account.
	readOnly bool
	run      func(e *env, w mxWorld, who string, f mxFix) result
	// root is the field of data that holds the answer.
	root string
	// okCheck looks further into a successful answer.
	okCheck func(t *testing.T, node any)
}

func (e *env) mxFor(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// mxDraft is a draft of Hôpital des Diaconesses with nothing filled.
func mxDraft(e *env, w mxWorld) mxFix {
	d := e.must(prescriber, "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": w.diaconesses, "urgency": "WITHIN_WEEK",
		"patient": map[string]any{"birthName": "Durand", "firstName": "Élise", "birthDate": "1948-03-12", "sex": "FEMALE"},
	}})
	return mxFix{request: str(d, "createAdmissionRequest.request.id")}
}

// mxReady is a draft ready to send.
func mxReady(e *env, _ mxWorld) mxFix { return mxFix{request: e.readyRequest(prescriber)} }

// mxSent is R: sent to Sainte-Périne and Jeanne Garnier; D is Sainte-Périne's dispatch.
func mxSent(e *env, w mxWorld) mxFix {
	id := e.readyRequest(prescriber)
	d := e.must(prescriber, "Send", map[string]any{"requestId": id, "unitIds": []string{w.perine, w.garnier}})
	f := mxFix{request: id}
	for _, x := range get(d, "sendAdmissionRequest.dispatches").([]any) {
		if str(x, "unit.id") == w.perine {
			f.dispatch = str(x, "id")
		}
	}
	if f.dispatch == "" {
		e.t.Fatalf("no dispatch to Sainte-Périne: %v", d)
	}
	return f
}

// mxSentComplete is R with its medical section edited after validation
// (back to COMPLETE, so that it may be validated again).
func mxSentComplete(e *env, w mxWorld) mxFix {
	f := mxSent(e, w)
	d := e.must(careTeam, "SaveMedical", map[string]any{"requestId": f.request, "input": map[string]any{"ppsScore": 20}})
	if s := str(d, "saveMedicalSection.medical.state"); s != "COMPLETE" {
		e.t.Fatalf("edited validated section is %s", s)
	}
	return f
}

// mxAccepted is R with D accepted by Sainte-Périne.
func mxAccepted(e *env, w mxWorld) mxFix {
	f := mxSent(e, w)
	e.must(perineDoctor, "Answer", map[string]any{"dispatchId": f.dispatch, "input": map[string]any{
		"decision": "ACCEPT", "proposedAdmissionDate": time.Now().AddDate(0, 0, 1).Format(time.DateOnly)}})
	return f
}

// mxConfirmed is R with D confirmed (Jeanne Garnier withdrawn).
func mxConfirmed(e *env, w mxWorld) mxFix {
	f := mxAccepted(e, w)
	e.must(prescriber, "Confirm", map[string]any{"dispatchId": f.dispatch})
	return f
}

func mxNone(*env, mxWorld) mxFix { return mxFix{} }

// contract runs a contract operation with variables built from the fixture.
func mxContract(name string, vars func(w mxWorld, f mxFix) map[string]any) func(*env, mxWorld, string, mxFix) result {
	return func(e *env, w mxWorld, who string, f mxFix) result { return e.op(who, name, vars(w, f)) }
}

func mxRequestVars(_ mxWorld, f mxFix) map[string]any { return map[string]any{"requestId": f.request} }
func mxDispatchVars(_ mxWorld, f mxFix) map[string]any {
	return map[string]any{"dispatchId": f.dispatch}
}
func mxNodeVars(_ mxWorld, f mxFix) map[string]any { return map[string]any{"id": f.request} }

func mxWithRequest(extra map[string]any) func(mxWorld, mxFix) map[string]any {
	return func(_ mxWorld, f mxFix) map[string]any {
		v := map[string]any{"requestId": f.request}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
}

func mxWithDispatch(extra map[string]any) func(mxWorld, mxFix) map[string]any {
	return func(_ mxWorld, f mxFix) map[string]any {
		v := map[string]any{"dispatchId": f.dispatch}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
}

func mxMedicalRead(t *testing.T, node any) {
	t.Helper()
	if get(node, "medical") == nil || get(node, "careProject") == nil || get(node, "adminSocial") == nil {
		t.Fatalf("every section should be served: %v", node)
	}
}

var mxOps = map[string]mxOp{
	"CreateRequest": {setup: mxNone, root: "createAdmissionRequest", run: func(e *env, w mxWorld, who string, _ mxFix) result {
		return e.op(who, "CreateRequest", map[string]any{"input": map[string]any{
			"originStructureId": w.diaconesses, "urgency": "PLANNED",
			"patient": map[string]any{"birthName": "Moreau", "firstName": "Paul", "birthDate": "1950-01-01", "sex": "MALE"},
		}})
	}},
	"Request (unsent draft)": {setup: mxDraft, readOnly: true, root: "node", run: mxContract("Request", mxNodeVars)},
	"SaveMedical": {setup: mxSent, root: "saveMedicalSection", run: mxContract("SaveMedical", mxWithRequest(map[string]any{
		"input": map[string]any{"diagnosis": "Cancer du sein métastatique"}}))},
	"ValidateMedical": {setup: mxSentComplete, root: "validateMedicalSection", run: mxContract("ValidateMedical", mxRequestVars)},
	"SaveCareProject": {setup: mxSent, root: "saveCareProjectSection", run: mxContract("SaveCareProject", mxWithRequest(map[string]any{
		"input": map[string]any{"dependence": "Partielle"}}))},
	"SaveAdminSocial": {setup: mxSent, root: "saveAdminSocialSection", run: mxContract("SaveAdminSocial", mxWithRequest(map[string]any{
		"input": map[string]any{"livingSituation": "Seule à domicile"}}))},
	"Send (draft)": {setup: mxReady, root: "sendAdmissionRequest", run: func(e *env, w mxWorld, who string, f mxFix) result {
		return e.op(who, "Send", map[string]any{"requestId": f.request, "unitIds": []string{w.perine}})
	}},
	"Send (more units)": {setup: mxSent, root: "sendAdmissionRequest", run: func(e *env, w mxWorld, who string, f mxFix) result {
		return e.op(who, "Send", map[string]any{"requestId": f.request, "unitIds": []string{w.forcilles}})
	}},
	"Request": {setup: mxSent, readOnly: true, root: "node", run: mxContract("Request", mxNodeVars), okCheck: mxMedicalRead},
	"Inbox": {setup: mxSent, readOnly: true, root: "inbox", run: mxContract("Inbox", func(w mxWorld, _ mxFix) map[string]any {
		return map[string]any{"unitId": w.perine, "first": 10}
	}), okCheck: func(t *testing.T, node any) {
		if n, _ := get(node, "totalCount").(float64); n < 1 {
			t.Fatalf("Sainte-Périne's inbox is empty: %v", node)
		}
	}},
	"OpenDispatch":   {setup: mxSent, root: "openDispatch", run: mxContract("OpenDispatch", mxDispatchVars)},
	"AskInformation": {setup: mxSent, root: "requestInformation", run: mxContract("AskInformation", mxWithDispatch(map[string]any{"question": "Une PCA est-elle en place ?"}))},
	"PostMessage":    {setup: mxSent, root: "postMessage", run: mxContract("PostMessage", mxWithDispatch(map[string]any{"body": "Bonjour"}))},
	"Answer": {setup: mxSent, root: "answerDispatch", run: mxContract("Answer", mxWithDispatch(map[string]any{"input": map[string]any{
		"decision": "ACCEPT", "proposedAdmissionDate": time.Now().AddDate(0, 0, 2).Format(time.DateOnly)}}))},
	"Confirm":  {setup: mxAccepted, root: "confirmDispatch", run: mxContract("Confirm", mxDispatchVars)},
	"Withdraw": {setup: mxSent, root: "withdrawDispatch", run: mxContract("Withdraw", mxDispatchVars)},
	"Cancel": {setup: mxSent, root: "cancelAdmissionRequest", run: mxContract("Cancel", mxWithRequest(map[string]any{
		"reason": "PATIENT_DECEASED"}))},
	"UpdateRequest (urgency)": {setup: mxSent, root: "updateAdmissionRequest", run: func(e *env, _ mxWorld, who string, f mxFix) result {
		return e.post(e.token(who), updateRequestDoc, "", map[string]any{"id": f.request, "input": map[string]any{"urgency": "WITHIN_48H"}})
	}},
	"UpdateRequest (identity)": {setup: mxSent, root: "updateAdmissionRequest", run: func(e *env, _ mxWorld, who string, f mxFix) result {
		return e.post(e.token(who), updateRequestDoc, "", map[string]any{"id": f.request, "input": map[string]any{
			"patient": map[string]any{"usedName": "Durand-Leroy"}}})
	}},
	"RecordAdmission": {setup: mxConfirmed, root: "recordAdmission", run: func(e *env, _ mxWorld, who string, f mxFix) result {
		return e.op(who, "RecordAdmission", map[string]any{"dispatchId": f.dispatch,
			"admittedAt": time.Now().UTC().Format(time.RFC3339)})
	}},
	"Dispatch (node)": {setup: mxSent, readOnly: true, root: "node", run: func(e *env, _ mxWorld, who string, f mxFix) result {
		return e.post(e.token(who), `query D($id: ID!) { node(id: $id) { ... on Dispatch { id status request { id } } } }`, "D",
			map[string]any{"id": f.dispatch})
	}},
	"Timeline": {setup: mxSent, readOnly: true, root: "node", run: mxContract("Timeline", mxNodeVars), okCheck: func(t *testing.T, node any) {
		if evs, _ := get(node, "events").([]any); len(evs) == 0 {
			t.Fatalf("empty timeline: %v", node)
		}
	}},
	"Statistics": {setup: mxNone, readOnly: true, root: "admissionStatistics", run: mxContract("Statistics", func(mxWorld, mxFix) map[string]any { return nil })},
}

// updateRequestDoc is updateAdmissionRequest (not a contract operation).
const updateRequestDoc = `mutation U($id: ID!, $input: UpdateAdmissionRequestInput!) {
  updateAdmissionRequest(requestId: $id, input: $input) { request { id urgency patient { usedName } } }
}`

// mxCheck asserts one outcome. Error messages never name the patient.
func mxCheck(t *testing.T, op mxOp, r result, want string) {
	t.Helper()
	for _, err := range r.Errors {
		if strings.Contains(err.Message, "Durand") || strings.Contains(err.Message, "USP-2") {
			t.Errorf("an error message discloses the request: %q", err.Message)
		}
	}
	node := get(r.Data, op.root)
	switch want {
	case mxOK:
		if len(r.Errors) > 0 {
			t.Fatalf("want ok, got %+v", r.Errors)
		}
		if node == nil {
			t.Fatalf("want ok, got null %s", op.root)
		}
		if op.okCheck != nil {
			op.okCheck(t, node)
		}
	case mxNoMed:
		if node == nil {
			t.Fatalf("want the request with medical null, got null %s (%+v)", op.root, r.Errors)
		}
		if get(node, "medical") != nil {
			t.Fatalf("medical section served: %v", get(node, "medical"))
		}
		if len(r.Errors) != 1 || r.code() != mxFB {
			t.Fatalf("want one FORBIDDEN error, got %+v", r.Errors)
		}
		if p := r.Errors[0].Path; len(p) == 0 || p[len(p)-1] != "medical" {
			t.Fatalf("FORBIDDEN at path %v, want …medical", p)
		}
		if str(node, "reference") == "" || get(node, "careProject") == nil || get(node, "adminSocial") == nil ||
			str(node, "patient.birthName") == "" {
			t.Fatalf("the rest of the request should be served: %v", node)
		}
	default:
		if r.code() != want {
			t.Fatalf("want %s, got data %v errors %+v", want, r.Data, r.Errors)
		}
		if node != nil {
			t.Fatalf("%s with data: %v", want, node)
		}
	}
}

// TestProfileMatrix runs every contract operation on requests and
// dispatches as every demo account, then the field rules and list filters.
// One environment serves the three groups (signing the 14 accounts in is
// what costs); the lists go first, while R and one draft are the only
// requests.
func TestProfileMatrix(t *testing.T) {
	e := mxNewEnv(t)
	w := mxWorld{
		diaconesses: e.structureID(prescriber),
		perine:      e.unitID("USP Sainte-Périne"),
		garnier:     e.unitID("Maison médicale Jeanne Garnier"),
		forcilles:   e.unitID("USP Forcilles"),
	}

	// Lists and filters obey the same row rule: no count, no id leaks.
	t.Run("lists", func(t *testing.T) {
		e := e.mxFor(t)
		f := mxSent(e, w)
		draft := mxDraft(e, w) // never sent: its origin only
		e.must(perineDoctor, "Answer", map[string]any{"dispatchId": f.dispatch, "input": map[string]any{
			"decision": "REFUSE", "refusalReason": "NO_BED_IN_TIME"}})
		ref := str(e.must(prescriber, "Request", map[string]any{"id": f.request}), "node.reference")
		sees := map[string][]string{
			prescriber: {f.request, draft.request}, careTeam: {f.request, draft.request}, adminSocial: {f.request, draft.request},
			perineDoctor: {f.request}, perineStaff: {f.request}, garnierDoc: {f.request},
		}
		sentOnly := map[string]bool{perineDoctor: true, perineStaff: true, garnierDoc: true}
		queries := []struct {
			name, where string
			sent        bool // the filter keeps only R
			otherUnit   bool // the filter is on Sainte-Périne's dispatch (refused)
		}{
			{"all", "", false, false},
			{"status SENT", `(where: {status: SENT})`, true, false},
			{"reference of R", fmt.Sprintf(`(where: {reference: %q})`, ref), true, false},
		}
		// Filters on a request's dispatches would tell a receiving unit where
		// else the request went and what the others answered: they do not
		// exist.
		for _, where := range []string{
			fmt.Sprintf(`(where: {hasDispatchesWith: [{hasUnitWith: [{id: %q}]}]})`, w.perine),
			`(where: {hasDispatchesWith: [{status: REFUSED}]})`,
		} {
			r := e.post(e.token(garnierDoc), `query L { admissionRequests`+where+` { totalCount } }`, "L", nil)
			if r.code() != "BAD_USER_INPUT" {
				t.Fatalf("dispatch filter %s: want BAD_USER_INPUT, got %+v %v", where, r.Errors, r.Data)
			}
		}
		for _, q := range queries {
			for _, who := range mxAccounts {
				want := sees[who]
				if q.sent && !sentOnly[who] && len(want) > 0 {
					want = []string{f.request}
				}
				// Another unit's dispatch is hidden from Jeanne Garnier: a
				// filter on it must not tell where else R was sent.
				if q.otherUnit && who == garnierDoc {
					want = nil
				}
				t.Run(q.name+"/"+who, func(t *testing.T) {
					if why, bug := mxKnownBugs["lists/"+q.name+"/"+who]; bug {
						t.Skip("known bug: " + why)
					}
					se := e.mxFor(t)
					r := se.post(se.token(who), `query L { admissionRequests`+q.where+` { totalCount edges { node { id } } } }`, "L", nil)
					if len(r.Errors) > 0 {
						t.Fatalf("%+v", r.Errors)
					}
					n, _ := get(r.Data, "admissionRequests.totalCount").(float64)
					var ids []string
					for _, edge := range get(r.Data, "admissionRequests.edges").([]any) {
						ids = append(ids, str(edge, "node.id"))
					}
					if int(n) != len(want) || len(ids) != len(want) {
						t.Fatalf("totalCount %v, ids %v; want %v", n, ids, want)
					}
					for _, id := range want {
						found := false
						for _, got := range ids {
							found = found || got == id
						}
						if !found {
							t.Fatalf("ids %v, want %v", ids, want)
						}
					}
				})
			}
		}
		// The inbox of a unit the request was not sent to is empty for its
		// own physician, and closed to everyone else.
		t.Run("inbox of USP Forcilles", func(t *testing.T) {
			se := e.mxFor(t)
			r := se.op(forcillesDoc, "Inbox", map[string]any{"unitId": w.forcilles, "first": 10})
			if len(r.Errors) > 0 || get(r.Data, "inbox.totalCount") != float64(0) {
				t.Fatalf("Forcilles' inbox: %v %+v", r.Data, r.Errors)
			}
		})
	})

	t.Run("operations", func(t *testing.T) {
		for _, row := range profileMatrix {
			op, ok := mxOps[row.op]
			if !ok {
				t.Fatalf("no operation %q", row.op)
			}
			// A successful change gets a fresh fixture; reads and refused
			// changes (which change nothing) share one, renewed whenever a
			// refusal fails to refuse.
			var shared *mxFix
			t.Run(row.op, func(t *testing.T) {
				for i, who := range mxAccounts {
					want := row.want[i]
					t.Run(who+"="+want, func(t *testing.T) {
						if why, bug := mxKnownBugs[row.op+"/"+who]; bug {
							t.Skip("known bug: " + why)
						}
						se := e.mxFor(t)
						var f mxFix
						switch {
						case want == mxOK && !op.readOnly:
							f = op.setup(se, w)
						case shared != nil:
							f = *shared
						default:
							f = op.setup(se, w)
							shared = &f
						}
						r := op.run(se, w, who, f)
						if !op.readOnly && len(r.Errors) == 0 {
							shared = nil
						}
						mxCheck(t, op, r, want)
					})
				}
			})
		}
	})

	// A request of DAC Paris Centre written by its coordinating physician:
	// the non-medical manager reads the medical section but may not write it.
	t.Run("fields", func(t *testing.T) {
		e := e.mxFor(t)
		dac := e.structureID(coordinator)
		perine := e.unitID("USP Sainte-Périne")
		created := e.must(coordinator, "CreateRequest", map[string]any{"input": map[string]any{
			"originStructureId": dac, "urgency": "WITHIN_WEEK",
			"patient": map[string]any{"birthName": "Bernard", "firstName": "Lucie", "birthDate": "1939-11-02", "sex": "FEMALE"},
		}})
		id := str(created, "createAdmissionRequest.request.id")
		e.must(coordinator, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{
			"diagnosis": "Insuffisance cardiaque terminale", "ppsScore": 30, "prognosis": "WEEKS",
			"patientInformedOfDiagnosis": "YES", "patientAgreesToUsp": true}})
		e.must(coordinator, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"stayGoal": "END_OF_LIFE"}})
		e.must(coordinator, "SaveAdminSocial", map[string]any{"requestId": id, "input": map[string]any{
			"address": "1 rue de Rivoli", "postalCode": "75001", "city": "Paris"}})

		cases := []struct {
			name, who, op string
			vars          map[string]any
			want          string
		}{
			{"non-medical manager reads medical", nonMedical, "Request", map[string]any{"id": id}, mxOK},
			{"non-medical manager may not write medical", nonMedical, "SaveMedical", map[string]any{"requestId": id,
				"input": map[string]any{"diagnosis": "autre"}}, mxFB},
			{"non-medical manager may not validate", nonMedical, "ValidateMedical", map[string]any{"requestId": id}, mxFB},
			{"non-medical manager writes care project", nonMedical, "SaveCareProject", map[string]any{"requestId": id,
				"input": map[string]any{"dependence": "Aide partielle"}}, mxOK},
			{"non-medical manager writes admin-social", nonMedical, "SaveAdminSocial", map[string]any{"requestId": id,
				"input": map[string]any{"personToNotify": "Fils"}}, mxOK},
			{"coordinating physician validates", coordinator, "ValidateMedical", map[string]any{"requestId": id}, mxOK},
			{"non-medical manager sends", nonMedical, "Send", map[string]any{"requestId": id, "unitIds": []string{perine}}, mxOK},
			{"another structure's admin manager", adminSocial, "Request", map[string]any{"id": id}, mxNF},
			{"another structure's prescriber", prescriber, "Request", map[string]any{"id": id}, mxNF},
			{"liberal physician", liberal, "SaveMedical", map[string]any{"requestId": id,
				"input": map[string]any{"diagnosis": "autre"}}, mxNF},
			{"receiving staff after sending", perineStaff, "Request", map[string]any{"id": id}, mxNoMed},
			{"receiving physician after sending", perineDoctor, "Request", map[string]any{"id": id}, mxOK},
		}
		roots := map[string]string{"Request": "node", "SaveMedical": "saveMedicalSection", "ValidateMedical": "validateMedicalSection",
			"SaveCareProject": "saveCareProjectSection", "SaveAdminSocial": "saveAdminSocialSection", "Send": "sendAdmissionRequest"}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if why, bug := mxKnownBugs["fields/"+c.name]; bug {
					t.Skip("known bug: " + why)
				}
				se := e.mxFor(t)
				op := mxOp{root: roots[c.op]}
				if c.op == "Request" {
					op.okCheck = mxMedicalRead
				}
				r := se.op(c.who, c.op, c.vars)
				mxCheck(t, op, r, c.want)
			})
		}
	})

	// A unit whose dispatch was closed keeps read-only access to what it
	// had received: it reads R, may no longer act, and does not see what
	// changed after its dispatch closed.
	t.Run("closed units", func(t *testing.T) {
		se := e.mxFor(t)
		f := mxSent(se, w)
		var g string
		for _, d := range get(se.must(prescriber, "Request", map[string]any{"id": f.request}), "node.dispatches").([]any) {
			if str(d, "unit.id") == w.garnier {
				g = str(d, "id")
			}
		}
		se.must(garnierDoc, "OpenDispatch", map[string]any{"dispatchId": g})
		se.must(prescriber, "Withdraw", map[string]any{"dispatchId": g})
		before := str(se.must(garnierDoc, "Request", map[string]any{"id": f.request}), "node.medical.diagnosis")
		cases := []struct {
			name, op string
			vars     map[string]any
			want     string
		}{
			{"reads R", "Request", map[string]any{"id": f.request}, mxOK},
			{"reads its timeline", "Timeline", map[string]any{"id": f.request}, mxOK},
			{"reopens its dispatch", "OpenDispatch", map[string]any{"dispatchId": g}, mxOK},
			{"may not post", "PostMessage", map[string]any{"dispatchId": g, "body": "Toujours intéressés"}, "CONFLICT"},
			{"may not ask", "AskInformation", map[string]any{"dispatchId": g, "question": "?"}, "CONFLICT"},
			{"may not answer", "Answer", map[string]any{"dispatchId": g, "input": map[string]any{"decision": "ACCEPT"}}, "CONFLICT"},
		}
		roots := map[string]string{"Request": "node", "Timeline": "node", "OpenDispatch": "openDispatch"}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if why, bug := mxKnownBugs["closed/"+c.name]; bug {
					t.Skip("known bug: " + why)
				}
				r := e.mxFor(t).op(garnierDoc, c.op, c.vars)
				if c.want == mxOK {
					mxCheck(t, mxOp{root: roots[c.op]}, r, mxOK)
					return
				}
				if r.code() != c.want {
					t.Fatalf("want %s, got %v %+v", c.want, r.Data, r.Errors)
				}
			})
		}
		t.Run("does not see later edits", func(t *testing.T) {
			if why, bug := mxKnownBugs["closed/does not see later edits"]; bug {
				t.Skip("known bug: " + why)
			}
			te := e.mxFor(t)
			te.must(prescriber, "SaveMedical", map[string]any{"requestId": f.request, "input": map[string]any{
				"diagnosis": "Diagnostic révisé après le désistement"}})
			r := te.op(garnierDoc, "Request", map[string]any{"id": f.request})
			if got := str(r.Data, "node.medical.diagnosis"); got != before || before == "" {
				t.Fatalf("the withdrawn unit must read the diagnosis it had received: %q (had %q)", got, before)
			}
		})
	})
}
