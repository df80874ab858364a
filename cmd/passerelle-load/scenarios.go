package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// The client contract's documents (e2e/testdata/operations.graphql), one
// operation each, as a client would send them. contract_test.go checks they
// are the contract's, unchanged.
const (
	loginDoc = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    token
    expiresAt
    viewer { id email }
  }
}`
	inboxDoc = `query Inbox($unitId: ID!, $first: Int, $after: Cursor) {
  inbox(unitId: $unitId, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id
        status
        sentAt
        request { id reference urgency patient { birthName firstName birthDate } }
      }
    }
  }
}`
	statisticsDoc = `query Statistics($filter: StatisticsFilter) {
  admissionStatistics(filter: $filter) {
    requests
    sent
    admitted
    admissionRate
    medianSendToReadMinutes
    medianSendToAnswerMinutes
    refusalsByReason { reason count }
    requestsByOriginKind { kind count }
  }
}`
	createDoc = `mutation CreateRequest($input: CreateAdmissionRequestInput!) {
  createAdmissionRequest(input: $input) {
    request { id reference status }
    duplicateWarning
  }
}`
	saveMedicalDoc = `mutation SaveMedical($requestId: ID!, $input: MedicalSectionInput!) {
  saveMedicalSection(requestId: $requestId, input: $input) {
    id
    medical { state diagnosis ppsScore }
  }
}`
	validateDoc = `mutation ValidateMedical($requestId: ID!) {
  validateMedicalSection(requestId: $requestId) {
    id
    medical { state validatedAt validatedBy { id } }
  }
}`
	saveCareDoc = `mutation SaveCareProject($requestId: ID!, $input: CareProjectSectionInput!) {
  saveCareProjectSection(requestId: $requestId, input: $input) {
    id
    careProject { state }
  }
}`
	saveAdminDoc = `mutation SaveAdminSocial($requestId: ID!, $input: AdminSocialSectionInput!) {
  saveAdminSocialSection(requestId: $requestId, input: $input) {
    id
    adminSocial { state }
  }
}`
	sendDoc = `mutation Send($requestId: ID!, $unitIds: [ID!]!) {
  sendAdmissionRequest(requestId: $requestId, unitIds: $unitIds) {
    id
    status
    dispatches { id status unit { id } }
  }
}`
	answerDoc = `mutation Answer($dispatchId: ID!, $input: DispatchAnswerInput!) {
  answerDispatch(dispatchId: $dispatchId, input: $input) {
    id
    status
    refusalReason
    proposedAdmissionDate
  }
}`
	confirmDoc = `mutation Confirm($dispatchId: ID!) {
  confirmDispatch(dispatchId: $dispatchId) {
    id
    status
    request { id status dispatches { id status } }
  }
}`
)

// dashboardDoc is the prescriber dashboard (e2e/statements_test.go):
// requests with patient, section states and every dispatch with its unit.
const dashboardDoc = `query Dashboard($first: Int) {
  admissionRequests(first: $first) {
    totalCount
    edges { node {
      id reference status urgency
      patient { birthName firstName birthDate }
      medical { state diagnosis }
      careProject { state }
      adminSocial { state }
      dispatches { id status late unit { id name } }
    } }
  }
}`

// pageSize is the dashboards' page (first: 50).
const pageSize = 50

// operation is one measured unit of work; rows is what it served.
type operation func(ctx context.Context, worker int) (rows int, err error)

// roundRobin spreads calls over the endpoints in turn, as a load balancer
// in front of several instances would (one endpoint: always that one).
func roundRobin(urls []string) func() string {
	if len(urls) == 1 {
		u := urls[0]
		return func() string { return u }
	}
	var n atomic.Uint64
	return func() string { return urls[(n.Add(1)-1)%uint64(len(urls))] }
}

// readOp posts the same prepared query again and again.
func (t *target) readOp(url, token string, body []byte, rows int) operation {
	return t.readOpOn(roundRobin([]string{url}), token, body, rows)
}

// readOpOn is readOp over the endpoints pick returns.
func (t *target) readOpOn(pick func() string, token string, body []byte, rows int) operation {
	return func(ctx context.Context, _ int) (int, error) {
		b, err := t.post(ctx, pick(), token, body)
		if err != nil {
			return 0, err
		}
		if !bytes.Contains(b, []byte(`"id"`)) && rows > 0 {
			return 0, fmt.Errorf("empty page: %s", truncate(b))
		}
		return rows, nil
	}
}

func (t *target) s1() operation { return t.s1On([]string{t.url}) }
func (t *target) s2() operation { return t.s2On([]string{t.url}) }
func (t *target) s3() operation { return t.s3On([]string{t.url}) }

// s1On is S1 spread round-robin over the instances at urls.
func (t *target) s1On(urls []string) operation {
	return t.readOpOn(roundRobin(urls), t.receiver.token,
		gqlBody(inboxDoc, "Inbox", map[string]any{"unitId": t.unitID, "first": pageSize}), pageSize)
}

// s2On is S2 spread round-robin over the instances at urls.
func (t *target) s2On(urls []string) operation {
	return t.readOpOn(roundRobin(urls), t.prescriber.token,
		gqlBody(dashboardDoc, "Dashboard", map[string]any{"first": pageSize}), pageSize)
}

func (t *target) s4() operation {
	return t.readOp(t.url, t.observer.token, gqlBody(statisticsDoc, "Statistics", map[string]any{}), 0)
}

// iteration numbers S3 iterations across workers (accounts and units rotate).
var iteration atomic.Int64

// s3On is the workflow: create → 3 section saves → validate → send to 3
// units → 3 answers → confirm: 10 mutations, one iteration per operation.
// Each mutation goes to the next instance at urls in turn (round-robin),
// so with two instances one iteration's steps alternate between them: a
// request created on one is sent, answered and confirmed on both.
func (t *target) s3On(urls []string) operation {
	pick := roundRobin(urls)
	return func(ctx context.Context, worker int) (int, error) {
		n := int(iteration.Add(1))
		w := t.writers[n%len(t.writers)]
		units := threeUnits(t.units, n)
		r := rand.New(rand.NewPCG(uint64(n), 3))
		var created struct {
			CreateAdmissionRequest struct {
				Request struct{ ID string } `json:"request"`
			} `json:"createAdmissionRequest"`
		}
		if err := t.gqlAt(ctx, pick(), w.token, createDoc, "CreateRequest", map[string]any{"input": map[string]any{
			"originStructureId": w.structureID, "urgency": "WITHIN_WEEK",
			"patient": map[string]any{"birthName": fmt.Sprintf("Charge%d", n), "firstName": "Test",
				"birthDate": time.Date(1930+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
				"sex":       "FEMALE"},
		}}, &created); err != nil {
			return 0, err
		}
		id := created.CreateAdmissionRequest.Request.ID
		steps := []struct {
			doc, op string
			vars    map[string]any
		}{
			{saveMedicalDoc, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{
				"diagnosis": "Adénocarcinome pancréatique métastatique", "ppsScore": 30, "prognosis": "WEEKS",
				"patientInformedOfDiagnosis": "YES", "patientAgreesToUsp": true,
				"pallia10": []bool{true, true, true, false, false, true, false, false, false, false}}}},
			{saveCareDoc, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{
				"stayGoal": "SYMPTOM_CONTROL", "dependence": "Aide totale pour la toilette"}}},
			{saveAdminDoc, "SaveAdminSocial", map[string]any{"requestId": id, "input": map[string]any{
				"address": "12 rue des Lilas", "postalCode": "75012", "city": "Paris", "personToNotify": "Fille"}}},
			{validateDoc, "ValidateMedical", map[string]any{"requestId": id}},
		}
		for _, s := range steps {
			if err := t.gqlAt(ctx, pick(), w.token, s.doc, s.op, s.vars, nil); err != nil {
				return 0, err
			}
		}
		var sent struct {
			SendAdmissionRequest struct {
				Dispatches []struct {
					ID   string
					Unit struct{ ID uuid.UUID }
				}
			} `json:"sendAdmissionRequest"`
		}
		if err := t.gqlAt(ctx, pick(), w.token, sendDoc, "Send", map[string]any{"requestId": id, "unitIds": units}, &sent); err != nil {
			return 0, err
		}
		dispatchOf := map[uuid.UUID]string{}
		for _, d := range sent.SendAdmissionRequest.Dispatches {
			dispatchOf[d.Unit.ID] = d.ID
		}
		tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
		answers := []map[string]any{
			{"decision": "ACCEPT", "proposedAdmissionDate": tomorrow},
			{"decision": "REFUSE", "refusalReason": "NO_BED_IN_TIME", "comment": "Pas de lit avant 10 jours"},
			{"decision": "ACCEPT_WITH_RESERVATION", "comment": "Sous réserve d'un lit libéré jeudi", "proposedAdmissionDate": tomorrow},
		}
		for k, u := range units {
			if err := t.gqlAt(ctx, pick(), t.receivers[u].token, answerDoc, "Answer",
				map[string]any{"dispatchId": dispatchOf[u], "input": answers[k]}, nil); err != nil {
				return 0, err
			}
		}
		if err := t.gqlAt(ctx, pick(), w.token, confirmDoc, "Confirm", map[string]any{"dispatchId": dispatchOf[units[0]]}, nil); err != nil {
			return 0, err
		}
		return 1, nil
	}
}

// threeUnits picks the n-th triple of distinct units (a rotation).
func threeUnits(units []uuid.UUID, n int) []uuid.UUID {
	k := len(units)
	a := n % k
	b := (a + 1 + (n/k)%(k-2)) % k
	c := (b + 1) % k
	if c == a {
		c = (c + 1) % k
	}
	return []uuid.UUID{units[a], units[b], units[c]}
}
