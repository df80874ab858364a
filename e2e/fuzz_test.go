package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Markers written into a Diaconesses request: an outsider's response must
// never contain them, whatever the query.
const (
	secretDiagnosis = "SECRET-DIAGNOSIS-DIACONESSES"
	secretName      = "Secretnamezyx"
)

var (
	fuzzSeed sync.Once
	fuzzTok  string
	fuzzIDs  []string
)

// seedFuzz writes the other structure's request once (the fuzz function
// runs many times on one server).
func seedFuzz(e *env, t *testing.T) {
	fuzzSeed.Do(func() {
		e.t = t
		id := e.draftRequest(careTeam)
		e.must(careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{"diagnosis": secretDiagnosis}})
		r := e.must(careTeam, "CreateRequest", map[string]any{"input": map[string]any{
			"originStructureId": e.structureID(prescriber), "urgency": "PLANNED",
			"patient": map[string]any{"birthName": secretName, "firstName": "X", "birthDate": "1950-01-01", "sex": "MALE"},
		}})
		fuzzTok = e.token(pompidou)
		fuzzIDs = []string{id, str(r, "createAdmissionRequest.request.id")}
	})
}

// FuzzGraphQLRequest sends random documents and variables through the real
// handler as a prescriber of another structure: never a 5xx, always JSON,
// never a byte of the other structure's patient data.
func FuzzGraphQLRequest(f *testing.F) {
	for _, op := range []string{"Request", "Timeline", "Inbox", "Viewer", "UspUnits", "Send", "SaveMedical", "Confirm"} {
		f.Add(contract, op, `{"id":"00000000-0000-0000-0000-000000000000","requestId":"x","unitId":"y","first":5}`)
	}
	f.Add(`{ admissionRequests(where: {status: DRAFT}) { totalCount edges { node { id patient { birthName } medical { diagnosis } } } } }`, "", `{}`)
	f.Add(`query($id: ID!) { node(id: $id) { id ... on AdmissionRequest { medical { diagnosis } } } }`, "", `{"id":"ID0"}`)
	f.Add(`{ __schema { types { name } } }`, "", `null`)
	f.Add(`{ a: viewer { id } b: viewer { id } }`, "", `{}`)
	e := serve(f, nil, nil)
	f.Fuzz(func(t *testing.T, query, opName, vars string) {
		seedFuzz(e, t)
		for i, id := range fuzzIDs { // let the fuzzer aim at real rows
			vars = strings.ReplaceAll(vars, "ID"+string(rune('0'+i)), id)
		}
		var v any
		if json.Unmarshal([]byte(vars), &v) != nil {
			v = nil
		}
		body, _ := json.Marshal(map[string]any{"query": query, "operationName": opName, "variables": v})
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+fuzzTok)
		rec := httptest.NewRecorder()
		e.app.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("HTTP %d for %q: %s", rec.Code, query, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON (HTTP %d): %q", rec.Code, rec.Body)
		}
		out := rec.Body.String()
		if strings.Contains(out, secretDiagnosis) || strings.Contains(out, secretName) {
			t.Fatalf("leak to another structure: %s", out)
		}
		if strings.Contains(out, `"INTERNAL"`) {
			t.Fatalf("internal error for operation %q of %.200q %s: %s", opName, query, vars, out)
		}
	})
}
