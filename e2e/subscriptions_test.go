package e2e

// Live dashboards (issue 4): the contract's RequestEvents and UnitEvents and
// the viewer-wide dashboardEvents feed, over graphql-transport-ws and SSE,
// followed by real clients written below (no gqlgen client package: the
// protocol itself is under test). Every identifier of this file starts with
// "live" so that it does not collide with the other files of the package.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/coder/websocket"
	"github.com/google/uuid"

	"passerelle/app"
	"passerelle/demo"
	"passerelle/ent"
	"passerelle/enums"
	"passerelle/server"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// ---------------------------------------------------------------------------
// Environment

// liveEnvWith is newEnv with a chosen server configuration (e.g. a short
// ReauthInterval, so that revocations close websockets quickly).
func liveEnvWith(t *testing.T, cfg server.Config) *env {
	t.Helper()
	dsn := storetest.DatabaseURL(t)
	a, err := app.New(context.Background(), app.Config{
		Store:  store.Config{DatabaseURL: dsn},
		Server: cfg,
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

// liveCtx bounds a test: nothing here should take long, but -race on a
// 2-core machine is slow, so the bound is generous.
func liveCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// liveWaitSubscribers waits until the broker holds at least n subscribers:
// a subscription is registered before its resolver returns, so once counted
// it receives every event committed afterwards.
func liveWaitSubscribers(ctx context.Context, t *testing.T, e *env, n int) {
	t.Helper()
	for e.app.Broker.Count() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d subscribers: %d registered", n, e.app.Broker.Count())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// liveLogin signs in a fresh session (not cached, unlike env.token).
func liveLogin(e *env, who string) string {
	e.t.Helper()
	r := e.post("", contract, "Login", map[string]any{"email": who, "password": demo.Password})
	if len(r.Errors) > 0 {
		e.t.Fatalf("login %s: %+v", who, r.Errors)
	}
	return str(r.Data, "login.token")
}

// ---------------------------------------------------------------------------
// Subscriptions (client side, shared by both transports)

// liveEvent is one execution result pushed by the server.
type liveEvent struct {
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors"`
	raw    string
}

// liveSub collects what one subscription received.
type liveSub struct {
	id      string
	mu      sync.Mutex
	got     []liveEvent
	errs    []gqlError // an "error" message (graphql-transport-ws)
	ended   bool       // complete, error, or the connection ended
	changed chan struct{}
	stop    func() // SSE: ends the stream
}

func newLiveSub(id string) *liveSub { return &liveSub{id: id, changed: make(chan struct{})} }

func (s *liveSub) update(f func()) {
	s.mu.Lock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *liveSub) add(ev liveEvent) { s.update(func() { s.got = append(s.got, ev) }) }
func (s *liveSub) end(errs ...gqlError) {
	s.update(func() {
		s.errs = append(s.errs, errs...)
		s.ended = true
	})
}

// snapshot returns what was received so far.
func (s *liveSub) snapshot() ([]liveEvent, []gqlError, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got), slices.Clone(s.errs), s.ended
}

// waitFor waits until cond holds on what was received.
func (s *liveSub) waitFor(ctx context.Context, t *testing.T, what string, cond func(got []liveEvent, ended bool) bool) []liveEvent {
	t.Helper()
	for {
		s.mu.Lock()
		got, ended, ch := slices.Clone(s.got), s.ended, s.changed
		s.mu.Unlock()
		if cond(got, ended) {
			return got
		}
		if ended {
			_, errs, _ := s.snapshot()
			t.Fatalf("subscription %s ended while waiting for %s; received %v, errors %+v", s.id, what, liveBrief(liveTypesOf(got)), errs)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("subscription %s: timed out waiting for %s; received %v", s.id, what, liveBrief(liveTypesOf(got)))
		}
	}
}

// waitLast waits until the last event received has the given type.
func (s *liveSub) waitLast(ctx context.Context, t *testing.T, typ string) []liveEvent {
	t.Helper()
	return s.waitFor(ctx, t, "a "+typ+" event", func(got []liveEvent, _ bool) bool {
		return len(got) > 0 && liveField(got[len(got)-1], "type") == typ
	})
}

// waitCount waits until n events were received.
func (s *liveSub) waitCount(ctx context.Context, t *testing.T, n int) []liveEvent {
	t.Helper()
	return s.waitFor(ctx, t, fmt.Sprintf("%d events", n), func(got []liveEvent, _ bool) bool { return len(got) >= n })
}

// waitEnd waits until the server ended the subscription.
func (s *liveSub) waitEnd(ctx context.Context, t *testing.T) ([]liveEvent, []gqlError) {
	t.Helper()
	for {
		s.mu.Lock()
		got, errs, ended, ch := slices.Clone(s.got), slices.Clone(s.errs), s.ended, s.changed
		s.mu.Unlock()
		if ended {
			return got, errs
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("subscription %s: timed out waiting for its end; received %v", s.id, liveTypesOf(got))
		}
	}
}

// liveField is a field of the (only) root field of an event.
func liveField(ev liveEvent, path string) string {
	for _, root := range ev.Data {
		return str(root, path)
	}
	return ""
}

// liveBrief shortens a long list for a failure message.
func liveBrief(types []string) []string {
	if len(types) > 30 {
		return append([]string{fmt.Sprintf("…%d more…", len(types)-30)}, types[len(types)-30:]...)
	}
	return types
}

func liveTypesOf(evs []liveEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = liveField(ev, "type")
		if out[i] == "" && len(ev.Errors) > 0 {
			out[i] = "error:" + ev.Errors[0].Message
		}
	}
	return out
}

func liveCursorsOf(evs []liveEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = liveField(ev, "cursor")
	}
	return out
}

// liveCheckReceiverFeed checks a receiver's viewer-wide feed: exactly want,
// possibly preceded by a tail of the request-wide events written before the
// request was sent to the unit (before: the row rule lets a receiver see a
// request's events up to the closing of its dispatch, those before its
// sending included, and visibility is checked at delivery: an event checked
// after the sending committed is delivered, one checked before is not). It
// returns the events after that tail.
func liveCheckReceiverFeed(t *testing.T, what string, got []liveEvent, before, want []string) []liveEvent {
	t.Helper()
	extra := max(len(got)-len(want), 0)
	if extra > len(before) || !slices.Equal(liveTypesOf(got[:extra]), before[len(before)-extra:]) {
		t.Errorf("%s:\n got %v\nwant %v, possibly after a tail of %v", what, liveTypesOf(got), want, before)
		return got
	}
	if extra > 0 {
		t.Logf("%s: %d events written before the sending were delivered (checked after it)", what, extra)
	}
	liveCheckTypes(t, what, got[extra:], want)
	return got[extra:]
}

// liveCheckTypes compares the types received with the expected ones, and
// checks that each event carries its own, distinct cursor.
func liveCheckTypes(t *testing.T, what string, got []liveEvent, want []string) {
	t.Helper()
	if types := liveTypesOf(got); !slices.Equal(types, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, types, want)
	}
	seen := map[string]bool{}
	for i, ev := range got {
		if len(ev.Errors) > 0 {
			t.Errorf("%s: event %d has errors %+v", what, i, ev.Errors)
		}
		c := liveField(ev, "cursor")
		if c == "" || seen[c] {
			t.Errorf("%s: event %d has an empty or repeated cursor %q", what, i, c)
		}
		seen[c] = true
	}
}

// ---------------------------------------------------------------------------
// graphql-transport-ws client over github.com/coder/websocket

// liveConn is one graphql-transport-ws connection.
type liveConn struct {
	c    *websocket.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	subs map[string]*liveSub
	seq  int
	done chan struct{} // closed when the reader stops
	err  error         // why it stopped
}

type liveMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// liveWSURL is the websocket address of the GraphQL endpoint.
func liveWSURL(e *env) string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql" }

// liveDial opens a connection and authenticates it with connection_init.
func liveDial(ctx context.Context, e *env, token string) (*liveConn, error) {
	c, _, err := websocket.Dial(ctx, liveWSURL(e), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	if c.Subprotocol() != "graphql-transport-ws" {
		c.CloseNow()
		return nil, fmt.Errorf("subprotocol %q", c.Subprotocol())
	}
	c.SetReadLimit(1 << 20)
	lc := &liveConn{c: c, subs: map[string]*liveSub{}, done: make(chan struct{})}
	if err := lc.write(ctx, liveMessage{Type: "connection_init", Payload: liveJSON(map[string]any{"Authorization": "Bearer " + token})}); err != nil {
		c.CloseNow()
		return nil, err
	}
	for {
		m, err := lc.read(ctx)
		if err != nil {
			c.CloseNow()
			return nil, err
		}
		if m.Type == "connection_ack" {
			break
		}
		if m.Type != "ping" && m.Type != "pong" {
			c.CloseNow()
			return nil, fmt.Errorf("got %s before connection_ack", m.Type)
		}
	}
	go lc.readLoop()
	return lc, nil
}

// mustDial is liveDial that fails the test and closes at cleanup.
func liveMustDial(ctx context.Context, t *testing.T, e *env, token string) *liveConn {
	t.Helper()
	lc, err := liveDial(ctx, e, token)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	t.Cleanup(lc.closeNow)
	return lc
}

func liveJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (lc *liveConn) write(ctx context.Context, m liveMessage) error {
	lc.wmu.Lock()
	defer lc.wmu.Unlock()
	return lc.c.Write(ctx, websocket.MessageText, liveJSON(m))
}

// read returns the next message, answering pings.
func (lc *liveConn) read(ctx context.Context) (liveMessage, error) {
	for {
		_, b, err := lc.c.Read(ctx)
		if err != nil {
			return liveMessage{}, err
		}
		var m liveMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return liveMessage{}, fmt.Errorf("bad message %s: %w", b, err)
		}
		if m.Type == "ping" {
			if err := lc.write(ctx, liveMessage{Type: "pong"}); err != nil {
				return liveMessage{}, err
			}
			continue
		}
		return m, nil
	}
}

// readLoop hands next/error/complete messages to their subscriptions.
func (lc *liveConn) readLoop() {
	defer func() {
		lc.mu.Lock()
		subs := slices.Collect(func(yield func(*liveSub) bool) {
			for _, s := range lc.subs {
				if !yield(s) {
					return
				}
			}
		})
		lc.mu.Unlock()
		for _, s := range subs {
			s.end()
		}
		close(lc.done)
	}()
	for {
		m, err := lc.read(context.Background())
		if err != nil {
			lc.err = err
			return
		}
		lc.mu.Lock()
		s := lc.subs[m.ID]
		lc.mu.Unlock()
		if s == nil {
			continue // pong, or a late message of a stopped subscription
		}
		switch m.Type {
		case "next":
			ev := liveEvent{raw: string(m.Payload)}
			if err := json.Unmarshal(m.Payload, &ev); err != nil {
				lc.err = fmt.Errorf("bad next payload %s: %w", m.Payload, err)
				return
			}
			s.add(ev)
		case "error":
			var errs []gqlError
			_ = json.Unmarshal(m.Payload, &errs)
			s.end(errs...)
		case "complete":
			s.end()
		}
	}
}

// subscribe starts one subscription on the connection.
func (lc *liveConn) subscribe(ctx context.Context, t *testing.T, query, opName string, vars map[string]any) *liveSub {
	t.Helper()
	s, err := lc.trySubscribe(ctx, query, opName, vars)
	if err != nil {
		t.Fatalf("subscribe %s: %v", opName, err)
	}
	return s
}

func (lc *liveConn) trySubscribe(ctx context.Context, query, opName string, vars map[string]any) (*liveSub, error) {
	lc.mu.Lock()
	lc.seq++
	s := newLiveSub(fmt.Sprint(lc.seq))
	lc.subs[s.id] = s
	lc.mu.Unlock()
	payload := map[string]any{"query": query, "operationName": opName, "variables": vars}
	return s, lc.write(ctx, liveMessage{ID: s.id, Type: "subscribe", Payload: liveJSON(payload)})
}

// unsubscribe sends complete for s (the client stops listening).
func (lc *liveConn) unsubscribe(ctx context.Context, s *liveSub) error {
	lc.mu.Lock()
	delete(lc.subs, s.id)
	lc.mu.Unlock()
	return lc.write(ctx, liveMessage{ID: s.id, Type: "complete"})
}

// close closes the connection normally and waits for the reader.
func (lc *liveConn) close() {
	_ = lc.c.Close(websocket.StatusNormalClosure, "bye")
	<-lc.done
}

// closeNow drops the TCP connection without a close handshake.
func (lc *liveConn) closeNow() {
	_ = lc.c.CloseNow()
	<-lc.done
}

// waitClosed waits for the server to close the connection and returns the
// close frame's status and reason.
func (lc *liveConn) waitClosed(ctx context.Context, t *testing.T) (websocket.StatusCode, string) {
	t.Helper()
	select {
	case <-lc.done:
	case <-ctx.Done():
		t.Fatal("the server did not close the websocket")
	}
	var ce websocket.CloseError
	if !errors.As(lc.err, &ce) {
		t.Fatalf("connection ended without a close frame: %v", lc.err)
	}
	return ce.Code, ce.Reason
}

// ---------------------------------------------------------------------------
// SSE client (POST /graphql, Accept: text/event-stream)

// liveSSE starts a subscription over Server-Sent Events.
func liveSSE(ctx context.Context, t *testing.T, e *env, token, query, opName string, vars map[string]any) *liveSub {
	t.Helper()
	body := liveJSON(map[string]any{"query": query, "operationName": opName, "variables": vars})
	sctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(sctx, http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("SSE %s: %v", opName, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		resp.Body.Close()
		t.Fatalf("SSE %s: HTTP %d, Content-Type %q", opName, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := newLiveSub("sse:" + opName)
	finished := make(chan struct{})
	s.stop = func() {
		cancel()
		<-finished
	}
	t.Cleanup(s.stop)
	go func() {
		defer close(finished)
		defer resp.Body.Close()
		defer s.end()
		r := bufio.NewReader(resp.Body)
		var name string
		var data strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case line == "":
				switch name {
				case "next":
					ev := liveEvent{raw: data.String()}
					if err := json.Unmarshal([]byte(data.String()), &ev); err != nil {
						s.end(gqlError{Message: "bad SSE data: " + data.String()})
						return
					}
					s.add(ev)
				case "complete":
					return
				}
				name = ""
				data.Reset()
			case strings.HasPrefix(line, ":"): // comment (keep-alive)
			case strings.HasPrefix(line, "event:"):
				name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
	}()
	return s
}

// ---------------------------------------------------------------------------
// The whole story of TestWholeStory, step by step

// liveDashboard is the prescriber's viewer-wide feed.
const liveDashboard = `subscription DashboardEvents($after: Cursor) {
  dashboardEvents(after: $after) {
    cursor
    type
    occurredAt
    request { id status }
    dispatch { id status }
  }
}`

type liveStory struct {
	e                          *env
	perine, garnier, forcilles string
	id                         string
	dispatchOf                 map[string]string
}

func newLiveStory(e *env) *liveStory {
	return &liveStory{e: e, dispatchOf: map[string]string{},
		perine: e.unitID("USP Sainte-Périne"), garnier: e.unitID("Maison médicale Jeanne Garnier"), forcilles: e.unitID("USP Forcilles")}
}

// liveStep is one step of the story and the event types the requesting
// side sees for it.
type liveStep struct {
	name  string
	types []string
	run   func(s *liveStory)
}

var liveSteps = []liveStep{
	{"create", []string{"REQUEST_CREATED"}, func(s *liveStory) {
		d := s.e.must(careTeam, "CreateRequest", map[string]any{"input": map[string]any{
			"originStructureId": s.e.structureID(prescriber), "urgency": "WITHIN_48H",
			"desiredAdmissionDate": time.Now().AddDate(0, 0, 2).Format(time.DateOnly),
			"patient":              map[string]any{"birthName": "Martin", "firstName": "Jeanne", "birthDate": "1940-05-01", "sex": "FEMALE"},
		}})
		s.id = str(d, "createAdmissionRequest.request.id")
	}},
	{"medical, first part", []string{"SECTION_UPDATED"}, func(s *liveStory) {
		s.e.must(careTeam, "SaveMedical", map[string]any{"requestId": s.id, "input": map[string]any{
			"diagnosis": "Cancer bronchique", "ppsScore": 40}})
	}},
	{"medical, rest", []string{"SECTION_UPDATED"}, func(s *liveStory) {
		s.e.must(careTeam, "SaveMedical", map[string]any{"requestId": s.id, "input": map[string]any{
			"prognosis": "WEEKS", "patientInformedOfDiagnosis": "PARTIAL", "patientAgreesToUsp": true}})
	}},
	{"care project", []string{"SECTION_UPDATED"}, func(s *liveStory) {
		s.e.must(careTeam, "SaveCareProject", map[string]any{"requestId": s.id, "input": map[string]any{"stayGoal": "END_OF_LIFE"}})
	}},
	{"admin-social", []string{"SECTION_UPDATED"}, func(s *liveStory) {
		s.e.must(careTeam, "SaveAdminSocial", map[string]any{"requestId": s.id, "input": map[string]any{
			"address": "3 rue Oberkampf", "postalCode": "75011", "city": "Paris"}})
	}},
	{"validate", []string{"MEDICAL_VALIDATED"}, func(s *liveStory) {
		s.e.must(prescriber, "ValidateMedical", map[string]any{"requestId": s.id})
	}},
	{"send to 3 units", []string{"REQUEST_SENT", "REQUEST_SENT", "REQUEST_SENT"}, func(s *liveStory) {
		d := s.e.must(careTeam, "Send", map[string]any{"requestId": s.id, "unitIds": []string{s.perine, s.garnier, s.forcilles}})
		for _, x := range get(d, "sendAdmissionRequest.dispatches").([]any) {
			s.dispatchOf[str(x, "unit.id")] = str(x, "id")
		}
	}},
	{"Forcilles opens", []string{"DISPATCH_READ"}, func(s *liveStory) {
		s.e.must(forcillesDoc, "OpenDispatch", map[string]any{"dispatchId": s.dispatchOf[s.forcilles]})
	}},
	{"Forcilles refuses", []string{"DISPATCH_REFUSED"}, func(s *liveStory) {
		s.e.must(forcillesDoc, "Answer", map[string]any{"dispatchId": s.dispatchOf[s.forcilles], "input": map[string]any{
			"decision": "REFUSE", "refusalReason": "NO_BED_IN_TIME", "comment": "Pas de lit avant 10 jours"}})
	}},
	{"Sainte-Périne opens", []string{"DISPATCH_READ"}, func(s *liveStory) {
		s.e.must(perineStaff, "OpenDispatch", map[string]any{"dispatchId": s.dispatchOf[s.perine]})
	}},
	{"Sainte-Périne asks", []string{"INFORMATION_REQUESTED"}, func(s *liveStory) {
		s.e.must(perineStaff, "AskInformation", map[string]any{"dispatchId": s.dispatchOf[s.perine], "question": "Une PCA est-elle en place ?"})
	}},
	{"the prescriber answers", []string{"MESSAGE_POSTED"}, func(s *liveStory) {
		s.e.must(prescriber, "PostMessage", map[string]any{"dispatchId": s.dispatchOf[s.perine], "body": "Oui, PCA de morphine depuis hier."})
	}},
	{"Sainte-Périne accepts", []string{"DISPATCH_ACCEPTED"}, func(s *liveStory) {
		s.e.must(perineDoctor, "Answer", map[string]any{"dispatchId": s.dispatchOf[s.perine], "input": map[string]any{
			"decision": "ACCEPT", "proposedAdmissionDate": time.Now().AddDate(0, 0, 1).Format(time.DateOnly)}})
	}},
	{"Jeanne Garnier opens", []string{"DISPATCH_READ"}, func(s *liveStory) {
		s.e.must(garnierDoc, "OpenDispatch", map[string]any{"dispatchId": s.dispatchOf[s.garnier]})
	}},
	{"Jeanne Garnier accepts", []string{"DISPATCH_ACCEPTED"}, func(s *liveStory) {
		s.e.must(garnierDoc, "Answer", map[string]any{"dispatchId": s.dispatchOf[s.garnier], "input": map[string]any{
			"decision": "ACCEPT_WITH_RESERVATION", "comment": "Sous réserve d'un lit libéré jeudi"}})
	}},
	{"confirm Sainte-Périne", []string{"DISPATCH_CONFIRMED", "DISPATCH_WITHDRAWN"}, func(s *liveStory) {
		s.e.must(prescriber, "Confirm", map[string]any{"dispatchId": s.dispatchOf[s.perine]})
	}},
	{"admit", []string{"PATIENT_ADMITTED"}, func(s *liveStory) {
		s.e.must(perineDoctor, "RecordAdmission", map[string]any{"dispatchId": s.dispatchOf[s.perine], "admittedAt": time.Now().UTC().Format(time.RFC3339)})
	}},
}

// liveStepIndex finds a step by name.
func liveStepIndex(name string) int {
	i := slices.IndexFunc(liveSteps, func(s liveStep) bool { return s.name == name })
	if i < 0 {
		panic("no step " + name)
	}
	return i
}

// run plays steps [from, to).
func (s *liveStory) run(from, to int) {
	for _, st := range liveSteps[from:to] {
		st.run(s)
	}
}

// liveRequestingSide is what the requesting side sees of the whole story.
func liveRequestingSide() []string {
	var out []string
	for _, st := range liveSteps {
		out = append(out, st.types...)
	}
	return out
}

// livePerineSees is Sainte-Périne's part of the story: its own dispatch's
// events (the request-wide ones all happen before it was sent there).
var livePerineSees = []string{
	"REQUEST_SENT", "DISPATCH_READ", "INFORMATION_REQUESTED", "MESSAGE_POSTED",
	"DISPATCH_ACCEPTED", "DISPATCH_CONFIRMED", "PATIENT_ADMITTED",
}

// ---------------------------------------------------------------------------
// Tests

// TestSubscriptionDashboardsFollowStory: a receiver dashboard and a
// prescriber dashboard follow the whole story and see exactly the expected
// events, in order.
func TestSubscriptionDashboardsFollowStory(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	s := newLiveStory(e)

	presc := liveMustDial(ctx, t, e, e.token(prescriber))
	dash := presc.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	recv := liveMustDial(ctx, t, e, e.token(perineDoctor))
	unit := recv.subscribe(ctx, t, contract, "UnitEvents", map[string]any{"unitId": s.perine})
	recvDash := recv.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	liveWaitSubscribers(ctx, t, e, 3)

	s.run(0, 1) // create
	first := dash.waitCount(ctx, t, 1)
	// Live only, from now on.
	reqLive := presc.subscribe(ctx, t, contract, "RequestEvents", map[string]any{"requestId": s.id})
	liveWaitSubscribers(ctx, t, e, 4)
	s.run(1, liveStepIndex("send to 3 units"))
	// Replay from the creation, then live.
	reqReplay := presc.subscribe(ctx, t, contract, "RequestEvents", map[string]any{"requestId": s.id, "after": liveField(first[0], "cursor")})
	s.run(liveStepIndex("send to 3 units"), liveStepIndex("Forcilles opens"))
	// A receiver follows the request once it was sent to it.
	recvReq := recv.subscribe(ctx, t, contract, "RequestEvents", map[string]any{"requestId": s.id})
	liveWaitSubscribers(ctx, t, e, 6)
	s.run(liveStepIndex("Forcilles opens"), len(liveSteps))

	all := liveRequestingSide()
	gotDash := dash.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "prescriber dashboardEvents", gotDash, all)
	gotLive := reqLive.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "prescriber requestEvents (live)", gotLive, all[1:])
	gotReplay := reqReplay.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "prescriber requestEvents (after the creation)", gotReplay, all[1:])
	if !slices.Equal(liveCursorsOf(gotDash[1:]), liveCursorsOf(gotLive)) || !slices.Equal(liveCursorsOf(gotLive), liveCursorsOf(gotReplay)) {
		t.Errorf("the same events carry different cursors in different feeds:\n%v\n%v\n%v",
			liveCursorsOf(gotDash[1:]), liveCursorsOf(gotLive), liveCursorsOf(gotReplay))
	}
	for _, ev := range gotDash {
		if liveField(ev, "request.id") != s.id {
			t.Errorf("dashboard event of another request: %v", ev.Data)
		}
	}
	if st := liveField(gotDash[len(gotDash)-1], "request.status"); st != "ADMITTED" {
		t.Errorf("last event's request is %s", st)
	}

	gotUnit := unit.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "Sainte-Périne unitEvents", gotUnit, livePerineSees)
	for _, ev := range gotUnit {
		if liveField(ev, "dispatch.id") != s.dispatchOf[s.perine] || liveField(ev, "dispatch.request.id") != s.id {
			t.Errorf("Sainte-Périne received an event of another dispatch: %v", ev.Data)
		}
	}
	gotRecvDash := recvDash.waitLast(ctx, t, "PATIENT_ADMITTED")
	gotRecvDash = liveCheckReceiverFeed(t, "Sainte-Périne dashboardEvents", gotRecvDash, liveRequestingSide()[:liveIndexAfter("validate")], livePerineSees)
	if !slices.Equal(liveCursorsOf(gotUnit), liveCursorsOf(gotRecvDash)) {
		t.Errorf("unit and dashboard feeds disagree on cursors")
	}
	gotRecvReq := recvReq.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "Sainte-Périne requestEvents (from the sending)", gotRecvReq, livePerineSees[1:])

	// A dashboard that opens later replays the same sequence.
	late := presc.subscribe(ctx, t, liveDashboard, "DashboardEvents", map[string]any{"after": liveField(gotDash[0], "cursor")})
	gotLate := late.waitCount(ctx, t, len(all)-1)
	if !slices.Equal(liveCursorsOf(gotLate), liveCursorsOf(gotDash[1:])) || !slices.Equal(liveTypesOf(gotLate), all[1:]) {
		t.Errorf("replay differs from live:\n got %v\nwant %v", liveTypesOf(gotLate), all[1:])
	}
	lateUnit := recv.subscribe(ctx, t, contract, "UnitEvents", map[string]any{"unitId": s.perine, "after": liveField(gotUnit[0], "cursor")})
	gotLateUnit := lateUnit.waitCount(ctx, t, len(livePerineSees)-1)
	if !slices.Equal(liveCursorsOf(gotLateUnit), liveCursorsOf(gotUnit[1:])) {
		t.Errorf("unit replay differs from live:\n got %v\nwant %v", liveTypesOf(gotLateUnit), livePerineSees[1:])
	}
}

// TestSubscriptionResume: a client drops mid-story and resumes with its
// last cursor while the story goes on; it ends with exactly the sequence of
// a client that never disconnected.
func TestSubscriptionResume(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	s := newLiveStory(e)

	steady := liveMustDial(ctx, t, e, e.token(prescriber))
	steadyDash := steady.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	steadyRecv := liveMustDial(ctx, t, e, e.token(perineDoctor))
	steadyUnit := steadyRecv.subscribe(ctx, t, contract, "UnitEvents", map[string]any{"unitId": s.perine})

	// The flaky client's connection drops without a close handshake; its
	// receiver twin unsubscribes politely.
	flaky, err := liveDial(ctx, e, e.token(prescriber))
	if err != nil {
		t.Fatal(err)
	}
	flakyDash := flaky.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	flakyRecv := liveMustDial(ctx, t, e, e.token(perineDoctor))
	flakyUnit := flakyRecv.subscribe(ctx, t, contract, "UnitEvents", map[string]any{"unitId": s.perine})
	liveWaitSubscribers(ctx, t, e, 4)

	for _, who := range []string{careTeam, prescriber, forcillesDoc, perineStaff, perineDoctor, garnierDoc} {
		e.token(who) // signed in now: the story goes on in another goroutine below
	}
	cut := liveStepIndex("Sainte-Périne asks")
	s.run(0, cut)
	before := flakyDash.waitCount(ctx, t, liveIndexAfter("Sainte-Périne opens"))
	beforeUnit := flakyUnit.waitCount(ctx, t, 2) // REQUEST_SENT, DISPATCH_READ
	flaky.closeNow()
	if err := flakyRecv.unsubscribe(ctx, flakyUnit); err != nil {
		t.Fatal(err)
	}

	// Offline while the story goes on.
	resumeAt := liveStepIndex("Jeanne Garnier opens")
	s.run(cut, resumeAt)

	// Resume while the rest of the story is being played, so that events
	// are committed while the backlog is read.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.run(resumeAt, len(liveSteps))
	}()
	again := liveMustDial(ctx, t, e, e.token(prescriber))
	afterDash := again.subscribe(ctx, t, liveDashboard, "DashboardEvents", map[string]any{"after": liveField(before[len(before)-1], "cursor")})
	afterUnit := flakyRecv.subscribe(ctx, t, contract, "UnitEvents", map[string]any{"unitId": s.perine, "after": liveField(beforeUnit[len(beforeUnit)-1], "cursor")})
	wg.Wait()
	if t.Failed() {
		return
	}

	want := steadyDash.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "steady dashboard", want, liveRequestingSide())
	resumed := append(before, afterDash.waitLast(ctx, t, "PATIENT_ADMITTED")...)
	liveCheckTypes(t, "resumed dashboard", resumed, liveRequestingSide())
	if !slices.Equal(liveCursorsOf(resumed), liveCursorsOf(want)) {
		t.Errorf("resumed dashboard cursors differ from the steady one:\n got %v\nwant %v", liveCursorsOf(resumed), liveCursorsOf(want))
	}

	wantUnit := steadyUnit.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "steady unit feed", wantUnit, livePerineSees)
	resumedUnit := append(beforeUnit, afterUnit.waitLast(ctx, t, "PATIENT_ADMITTED")...)
	liveCheckTypes(t, "resumed unit feed", resumedUnit, livePerineSees)
	if !slices.Equal(liveCursorsOf(resumedUnit), liveCursorsOf(wantUnit)) {
		t.Errorf("resumed unit feed cursors differ from the steady one")
	}
}

// TestSubscriptionMalformedCursor: a cursor that is not an event cursor is
// BAD_USER_INPUT, not silence.
func TestSubscriptionMalformedCursor(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	perine := e.unitID("USP Sainte-Périne")
	listCursor, _ := json.Marshal(liveMarshalCursor(entgql.Cursor[uuid.UUID]{ID: uuid.New()}))
	negative, _ := json.Marshal(liveMarshalCursor(entgql.Cursor[uuid.UUID]{Value: int64(-1)}))
	cursors := map[string]string{
		"garbage":             "not-a-cursor",
		"base64 of nothing":   "AAAA",
		"a list cursor":       strings.Trim(string(listCursor), `"`),
		"a negative position": strings.Trim(string(negative), `"`),
	}
	c := liveMustDial(ctx, t, e, e.token(perineDoctor))
	for name, cur := range cursors {
		t.Run(name, func(t *testing.T) {
			for _, op := range []struct {
				query, name string
				vars        map[string]any
			}{
				{liveDashboard, "DashboardEvents", map[string]any{"after": cur}},
				{contract, "UnitEvents", map[string]any{"unitId": perine, "after": cur}},
			} {
				s := c.subscribe(ctx, t, op.query, op.name, op.vars)
				got, errs := s.waitEnd(ctx, t)
				for _, ev := range got {
					errs = append(errs, ev.Errors...)
					if ev.Data != nil && ev.Data[liveRootOf(op.name)] != nil {
						t.Errorf("%s: got data %v", op.name, ev.Data)
					}
				}
				if len(errs) == 0 || liveCode(errs[0]) != "BAD_USER_INPUT" {
					t.Errorf("%s after %q (websocket): want BAD_USER_INPUT, got %+v", op.name, cur, errs)
				}
				sse := liveSSE(ctx, t, e, e.token(perineDoctor), op.query, op.name, op.vars)
				got, errs = sse.waitEnd(ctx, t)
				for _, ev := range got {
					errs = append(errs, ev.Errors...)
				}
				if len(errs) == 0 || liveCode(errs[0]) != "BAD_USER_INPUT" {
					t.Errorf("%s after %q (SSE): want BAD_USER_INPUT, got %+v", op.name, cur, errs)
				}
			}
		})
	}
}

func liveRootOf(opName string) string {
	switch opName {
	case "DashboardEvents":
		return "dashboardEvents"
	case "UnitEvents":
		return "unitEvents"
	default:
		return "requestEvents"
	}
}

func liveCode(e gqlError) string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// liveMarshalCursor writes a cursor the way the server does.
func liveMarshalCursor(c entgql.Cursor[uuid.UUID]) string {
	var b bytes.Buffer
	c.MarshalGQL(&b)
	var s string
	_ = json.Unmarshal(b.Bytes(), &s)
	return s
}

// TestSubscriptionWithdrawnUnit: Jeanne Garnier, withdrawn when Sainte-Périne
// is confirmed, receives the withdrawal and nothing after it.
func TestSubscriptionWithdrawnUnit(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	s := newLiveStory(e)

	presc := liveMustDial(ctx, t, e, e.token(prescriber))
	dash := presc.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	gc := liveMustDial(ctx, t, e, e.token(garnierDoc))
	unit := gc.subscribe(ctx, t, contract, "UnitEvents", map[string]any{"unitId": s.garnier})
	gdash := gc.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	liveWaitSubscribers(ctx, t, e, 3)

	s.run(0, liveStepIndex("Forcilles opens"))
	greq := gc.subscribe(ctx, t, contract, "RequestEvents", map[string]any{"requestId": s.id})
	liveWaitSubscribers(ctx, t, e, 4)
	s.run(liveStepIndex("Forcilles opens"), liveStepIndex("confirm Sainte-Périne"))
	// A change while Jeanne Garnier is still in play reaches it.
	e.must(careTeam, "SaveCareProject", map[string]any{"requestId": s.id, "input": map[string]any{"dependence": "Aide partielle"}})
	s.run(liveStepIndex("confirm Sainte-Périne"), liveStepIndex("admit"))
	unit.waitLast(ctx, t, "DISPATCH_WITHDRAWN")
	gotReq := greq.waitLast(ctx, t, "DISPATCH_WITHDRAWN")
	wantReq := []string{"DISPATCH_READ", "DISPATCH_ACCEPTED", "SECTION_UPDATED", "REQUEST_UPDATED", "DISPATCH_WITHDRAWN"}
	liveCheckTypes(t, "Jeanne Garnier requestEvents", gotReq, wantReq)
	// A replay obeys the same rule, and goes live.
	replay := gc.subscribe(ctx, t, contract, "RequestEvents", map[string]any{"requestId": s.id, "after": liveField(gotReq[0], "cursor")})
	gotReplay := replay.waitLast(ctx, t, "DISPATCH_WITHDRAWN")
	if !slices.Equal(liveCursorsOf(gotReplay), liveCursorsOf(gotReq[1:])) {
		t.Errorf("replay after withdrawal:\n got %v\nwant %v", liveTypesOf(gotReplay), liveTypesOf(gotReq[1:]))
	}

	// After the withdrawal: a change of the request, the admission.
	e.must(careTeam, "SaveCareProject", map[string]any{"requestId": s.id, "input": map[string]any{"dependence": "Aide totale"}})
	s.run(liveStepIndex("admit"), len(liveSteps))
	got := dash.waitLast(ctx, t, "PATIENT_ADMITTED")
	if n := len(got); n < 4 || !slices.Equal(liveTypesOf(got[n-4:]), []string{"DISPATCH_WITHDRAWN", "SECTION_UPDATED", "REQUEST_UPDATED", "PATIENT_ADMITTED"}) {
		t.Fatalf("prescriber dashboard ends with %v", liveTypesOf(got))
	}
	// A marker: a new request sent to Jeanne Garnier. Its feeds deliver in
	// order, so anything of the first request would come before it.
	req2 := e.readyRequest(prescriber)
	e.must(careTeam, "Send", map[string]any{"requestId": req2, "unitIds": []string{s.garnier}})
	unit.waitLast(ctx, t, "REQUEST_SENT")
	gdash.waitLast(ctx, t, "REQUEST_SENT")

	wantUnit := []string{"REQUEST_SENT", "DISPATCH_READ", "DISPATCH_ACCEPTED", "REQUEST_UPDATED", "DISPATCH_WITHDRAWN", "REQUEST_SENT"}
	gotUnit, _, _ := unit.snapshot()
	liveCheckTypes(t, "Jeanne Garnier unitEvents", gotUnit, wantUnit)
	// The dashboard: the first request's events up to the withdrawal, then
	// the marker's (of which the request-wide events before its sending may
	// or may not show, see liveCheckReceiverFeed).
	gotDash, _, _ := gdash.snapshot()
	var first, second []liveEvent
	for _, ev := range gotDash {
		switch liveField(ev, "request.id") {
		case s.id:
			if len(second) > 0 {
				t.Errorf("an event of the first request after the marker: %v", ev.Data)
			}
			first = append(first, ev)
		case req2:
			second = append(second, ev)
		default:
			t.Errorf("event of another request: %v", ev.Data)
		}
	}
	liveCheckTypes(t, "Jeanne Garnier dashboardEvents", first,
		[]string{"REQUEST_SENT", "DISPATCH_READ", "DISPATCH_ACCEPTED", "SECTION_UPDATED", "REQUEST_UPDATED", "DISPATCH_WITHDRAWN"})
	liveCheckReceiverFeed(t, "Jeanne Garnier dashboardEvents (marker)", second,
		[]string{"REQUEST_CREATED", "SECTION_UPDATED", "SECTION_UPDATED", "SECTION_UPDATED", "MEDICAL_VALIDATED"}, []string{"REQUEST_SENT"})
	// The request feeds have no marker; the prescriber's dashboard showed
	// the later events, and the marker came through on the same connection.
	if now, _, _ := greq.snapshot(); len(now) != len(gotReq) {
		t.Errorf("withdrawn unit received %v", liveTypesOf(now[len(gotReq):]))
	}
	if now, _, _ := replay.snapshot(); len(now) != len(gotReplay) {
		t.Errorf("withdrawn unit's replayed feed received %v", liveTypesOf(now[len(gotReplay):]))
	}
}

// TestSubscriptionRevokedHabilitation: revoking a habilitation, or logging
// out, closes the viewer's websocket with 4403 within a few seconds.
func TestSubscriptionRevokedHabilitation(t *testing.T) {
	ctx := liveCtx(t)
	e := liveEnvWith(t, server.Config{ReauthInterval: 100 * time.Millisecond, EnableIntrospection: true})
	reqID := e.draftRequest(prescriber)

	t.Run("revoked habilitation", func(t *testing.T) {
		tok := e.token(careTeam)
		c := liveMustDial(ctx, t, e, tok)
		sub := c.subscribe(ctx, t, contract, "RequestEvents", map[string]any{"requestId": reqID})
		dash := c.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
		v := e.must(careTeam, "Viewer", nil)
		habID := str(v, "viewer.habilitations.0.id")
		r := e.post(e.token(referent), `mutation ($id: ID!) { revokeHabilitation(id: $id) { id revokedAt } }`, "", map[string]any{"id": habID})
		if len(r.Errors) > 0 {
			t.Fatalf("revoke: %+v", r.Errors)
		}
		code, reason := c.waitClosed(ctx, t)
		if code != server.CloseForbidden || reason != server.ReasonHabilitationRevoked {
			t.Fatalf("closed with %d %q, want %d %q", code, reason, server.CloseForbidden, server.ReasonHabilitationRevoked)
		}
		for _, s := range []*liveSub{sub, dash} {
			if got, _, _ := s.snapshot(); len(got) > 0 {
				t.Errorf("received %v", liveTypesOf(got))
			}
		}
		// Reconnecting does not bring anything back.
		if c2, err := liveDial(ctx, e, tok); err == nil {
			s := c2.subscribe(ctx, t, contract, "RequestEvents", map[string]any{"requestId": reqID})
			got, errs := s.waitEnd(ctx, t)
			for _, ev := range got {
				errs = append(errs, ev.Errors...)
			}
			if len(errs) == 0 {
				t.Errorf("a user without habilitation subscribed to a request")
			}
			c2.closeNow()
		}
	})

	t.Run("logout", func(t *testing.T) {
		tok := liveLogin(e, prescriber)
		c := liveMustDial(ctx, t, e, tok)
		c.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
		r := e.post(tok, contract, "Logout", nil)
		if len(r.Errors) > 0 || get(r.Data, "logout") != true {
			t.Fatalf("logout: %+v %v", r.Errors, r.Data)
		}
		code, reason := c.waitClosed(ctx, t)
		if code != server.CloseForbidden || reason != server.ReasonSessionEnded {
			t.Fatalf("closed with %d %q, want %d %q", code, reason, server.CloseForbidden, server.ReasonSessionEnded)
		}
		if _, err := liveDial(ctx, e, tok); err == nil {
			t.Fatal("a revoked token opened a websocket")
		} else if ce := (websocket.CloseError{}); !errors.As(err, &ce) || ce.Code != server.CloseForbidden {
			t.Fatalf("reconnecting with a revoked token: %v", err)
		}
	})

	t.Run("logout ends SSE streams", func(t *testing.T) {
		tok := liveLogin(e, prescriber)
		n := e.app.Broker.Count()
		s := liveSSE(ctx, t, e, tok, liveDashboard, "DashboardEvents", nil)
		liveWaitSubscribers(ctx, t, e, n+1)
		if r := e.post(tok, contract, "Logout", nil); len(r.Errors) > 0 {
			t.Fatalf("logout: %+v", r.Errors)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		select {
		case <-wctx.Done():
		case <-liveEnded(s):
		}
		if _, _, ended := s.snapshot(); !ended {
			t.Fatal("an SSE stream of a logged-out session is still open")
		}
	})
}

// liveEnded is closed when s ended.
func liveEnded(s *liveSub) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			s.mu.Lock()
			ended, changed := s.ended, s.changed
			s.mu.Unlock()
			if ended {
				return
			}
			<-changed
		}
	}()
	return ch
}

// TestSubscriptionNoMedicalForAdminSocial: an ADMIN_SOCIAL_MANAGER
// following a request never receives medical content; the rest of each
// event is delivered.
func TestSubscriptionNoMedicalForAdminSocial(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	s := newLiveStory(e)
	s.run(0, 1)

	const q = `subscription Follow($requestId: ID!) {
  requestEvents(requestId: $requestId) {
    cursor type
    request { id status medical { state diagnosis ppsScore } adminSocial { state } }
  }
}`
	c := liveMustDial(ctx, t, e, e.token(adminSocial))
	sub := c.subscribe(ctx, t, q, "Follow", map[string]any{"requestId": s.id})
	ws := liveMustDial(ctx, t, e, e.token(careTeam)) // a medical profile, for contrast
	care := ws.subscribe(ctx, t, q, "Follow", map[string]any{"requestId": s.id})
	sse := liveSSE(ctx, t, e, e.token(adminSocial), q, "Follow", map[string]any{"requestId": s.id})
	liveWaitSubscribers(ctx, t, e, 3)
	s.run(1, liveStepIndex("Forcilles opens"))

	want := liveRequestingSide()[1:liveIndexAfter("send to 3 units")]
	paths := map[string]bool{}
	for name, sb := range map[string]*liveSub{"websocket": sub, "SSE": sse} {
		got := sb.waitCount(ctx, t, len(want))
		if types := liveTypesOf(got); !slices.Equal(types, want) {
			t.Errorf("%s: got %v, want %v", name, types, want)
		}
		for i, ev := range got {
			if strings.Contains(ev.raw, "Cancer") || strings.Contains(ev.raw, "diagnosis\":\"") {
				t.Errorf("%s: event %d carries medical content: %s", name, i, ev.raw)
			}
			if get(ev.Data, "requestEvents.request.medical") != nil {
				t.Errorf("%s: event %d: medical = %v", name, i, get(ev.Data, "requestEvents.request.medical"))
			}
			if liveField(ev, "request.id") != s.id || liveField(ev, "cursor") == "" || liveField(ev, "request.adminSocial.state") == "" {
				t.Errorf("%s: event %d lost readable fields: %s", name, i, ev.raw)
			}
			forbidden := false
			for _, ge := range ev.Errors {
				p := fmt.Sprint(ge.Path)
				if liveCode(ge) == "FORBIDDEN" && strings.HasSuffix(p, "request medical]") {
					forbidden = true
					paths[p] = true
				}
			}
			if !forbidden {
				t.Errorf("%s: event %d: want FORBIDDEN at requestEvents.request.medical, got %+v", name, i, ev.Errors)
			}
		}
	}
	// The care team reads it.
	got := care.waitCount(ctx, t, len(want))
	if d := liveField(got[len(got)-1], "request.medical.diagnosis"); d != "Cancer bronchique" || len(got[len(got)-1].Errors) > 0 {
		t.Errorf("care team: diagnosis %q, errors %+v", d, got[len(got)-1].Errors)
	}
	t.Run("error path starts at the root field", func(t *testing.T) {
		if paths["[request medical]"] {
			t.Skip("known bug: in subscription events gqlgen v0.17.98 reports field errors without the root field " +
				"(path [request medical] instead of [requestEvents request medical])")
		}
		if !paths["[requestEvents request medical]"] || len(paths) != 1 {
			t.Errorf("error paths %v", paths)
		}
	})
}

// liveIndexAfter is the number of requesting-side events up to and
// including the named step.
func liveIndexAfter(step string) int {
	n := 0
	for _, st := range liveSteps[:liveStepIndex(step)+1] {
		n += len(st.types)
	}
	return n
}

// TestSubscriptionSSE: the same story over Server-Sent Events.
func TestSubscriptionSSE(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	s := newLiveStory(e)

	dash := liveSSE(ctx, t, e, e.token(prescriber), liveDashboard, "DashboardEvents", nil)
	unit := liveSSE(ctx, t, e, e.token(perineDoctor), contract, "UnitEvents", map[string]any{"unitId": s.perine})
	liveWaitSubscribers(ctx, t, e, 2)
	s.run(0, 1)
	reqLive := liveSSE(ctx, t, e, e.token(prescriber), contract, "RequestEvents", map[string]any{"requestId": s.id})
	liveWaitSubscribers(ctx, t, e, 3)
	cut := liveStepIndex("Sainte-Périne asks")
	s.run(1, cut)

	// A stream that drops and resumes.
	before := reqLive.waitCount(ctx, t, liveIndexAfter("Sainte-Périne opens")-1) // all but REQUEST_CREATED
	reqLive.stop()
	s.run(cut, liveStepIndex("Jeanne Garnier opens"))
	resumed := liveSSE(ctx, t, e, e.token(prescriber), contract, "RequestEvents", map[string]any{"requestId": s.id, "after": liveField(before[len(before)-1], "cursor")})
	s.run(liveStepIndex("Jeanne Garnier opens"), len(liveSteps))

	all := liveRequestingSide()
	gotDash := dash.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "SSE dashboard", gotDash, all)
	gotReq := append(before, resumed.waitLast(ctx, t, "PATIENT_ADMITTED")...)
	liveCheckTypes(t, "SSE requestEvents, resumed", gotReq, all[1:])
	if !slices.Equal(liveCursorsOf(gotReq), liveCursorsOf(gotDash[1:])) {
		t.Errorf("resumed SSE stream differs from the steady one")
	}
	gotUnit := unit.waitLast(ctx, t, "PATIENT_ADMITTED")
	liveCheckTypes(t, "SSE unitEvents", gotUnit, livePerineSees)
}

// TestSubscriptionLatePublish: an event committed before another but
// handed to the broker after it (two writers racing between their commit
// and their publish) is still delivered, in order, exactly once.
func TestSubscriptionLatePublish(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	id := e.draftRequest(prescriber)
	c := liveMustDial(ctx, t, e, e.token(prescriber))
	dash := c.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	liveWaitSubscribers(ctx, t, e, 1)

	// Writer A commits its event but has not published it yet...
	sys := viewer.System(context.Background())
	late, err := e.app.DB.Client.Event.Create().SetType(enums.EventTypeSectionUpdated).SetRequestID(uuid.MustParse(id)).
		SetSection(enums.SectionKindCareProject).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	// ...when writer B commits and publishes.
	e.must(careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"stayGoal": "RESPITE"}})
	e.app.Broker.Publish([]*ent.Event{late}) // A publishes, late
	e.draftRequest(prescriber)               // a marker
	got := dash.waitLast(ctx, t, "REQUEST_CREATED")
	liveCheckTypes(t, "dashboard", got, []string{"SECTION_UPDATED", "SECTION_UPDATED", "REQUEST_CREATED"})
	if len(got) > 0 && liveField(got[0], "cursor") != liveMarshalCursor(entgql.Cursor[uuid.UUID]{Value: late.ID}) {
		t.Errorf("the late event is not first: %v", got[0].Data)
	}
}

// TestSubscriptionGoroutines: 1 000 concurrent subscriptions opened then
// closed (politely or not) leave the goroutine count where it started.
func TestSubscriptionGoroutines(t *testing.T) {
	ctx := liveCtx(t)
	e := liveEnvWith(t, server.Config{EnableIntrospection: true, MaxConnectionsPerUser: 500, MaxSubscriptionsPerConnection: 200})
	perine := e.unitID("USP Sainte-Périne")
	ptok, rtok := e.token(prescriber), e.token(perineDoctor)
	// Warm up: one connection and subscription, so that lazily started
	// goroutines (HTTP keep-alive, pools) are counted in the baseline.
	w := liveMustDial(ctx, t, e, ptok)
	w.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	liveWaitSubscribers(ctx, t, e, 1)
	w.close()
	liveWaitBrokerEmpty(ctx, t, e)
	base := liveSettledGoroutines()

	const (
		shared    = 8   // connections carrying many subscriptions
		perShared = 100 // subscriptions on each
		single    = 200 // connections with one subscription each
		total     = shared*perShared + single
	)
	var conns []*liveConn
	var dashboards []*liveSub
	for i := range shared {
		tok := ptok
		if i%2 == 1 {
			tok = rtok
		}
		c, err := liveDial(ctx, e, tok)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for j := range perShared {
			if tok == ptok && j%2 == 0 {
				dashboards = append(dashboards, c.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil))
			} else if tok == ptok {
				c.subscribe(ctx, t, liveDashboard, "DashboardEvents", map[string]any{"after": liveMarshalCursor(entgql.Cursor[uuid.UUID]{Value: int64(1 << 40)})})
			} else {
				c.subscribe(ctx, t, contract, "UnitEvents", map[string]any{"unitId": perine})
			}
		}
	}
	for i := 0; i < single; i += 50 { // in batches
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 50 {
			wg.Go(func() {
				c, err := liveDial(ctx, e, rtok)
				if err != nil {
					t.Error(err)
					return
				}
				c.subscribe(ctx, t, contract, "UnitEvents", map[string]any{"unitId": perine})
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	liveWaitSubscribers(ctx, t, e, total)
	peak := runtime.NumGoroutine()

	// They are live: one event reaches every prescriber dashboard.
	e.draftRequest(prescriber)
	for _, d := range dashboards {
		d.waitCount(ctx, t, 1)
	}

	// Close: some subscriptions one by one, some connections politely,
	// the rest abruptly.
	for i, c := range conns {
		switch {
		case i < 2:
			c.mu.Lock()
			subs := slices.Collect(func(yield func(*liveSub) bool) {
				for _, s := range c.subs {
					if !yield(s) {
						return
					}
				}
			})
			c.mu.Unlock()
			for _, s := range subs {
				if err := c.unsubscribe(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
		case i%2 == 0:
			c.close()
		default:
			c.closeNow()
		}
	}
	liveWaitBrokerEmpty(ctx, t, e)
	for _, c := range conns[:2] {
		c.close()
	}

	const slack = 10
	deadline := time.Now().Add(60 * time.Second)
	n := runtime.NumGoroutine()
	for n > base+slack && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	t.Logf("goroutines: %d at start, %d with %d subscriptions, %d after closing", base, peak, total, n)
	if n > base+slack {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("goroutines: %d at start, %d after closing %d subscriptions\n%s", base, n, total, buf)
	}
}

// liveSettledGoroutines returns the goroutine count once it stopped moving.
func liveSettledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 20 {
		time.Sleep(25 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

// liveWaitBrokerEmpty waits until the broker holds no subscriber.
func liveWaitBrokerEmpty(ctx context.Context, t *testing.T, e *env) {
	t.Helper()
	for e.app.Broker.Count() > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d subscribers still registered", e.app.Broker.Count())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestSubscriptionSlowSubscriberDropped: a subscriber that falls behind is
// dropped with a clear reason (an "error" message, not a "complete" that a
// client would take for a normal end), and resumes with its cursor.
func TestSubscriptionSlowSubscriberDropped(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	id := e.draftRequest(prescriber)
	c := liveMustDial(ctx, t, e, e.token(prescriber))
	dash := c.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	other := c.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
	liveWaitSubscribers(ctx, t, e, 2)
	e.must(careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"stayGoal": "RESPITE"}})
	got := dash.waitCount(ctx, t, 1)
	other.waitCount(ctx, t, 1)

	// A burst far larger than a subscriber's buffer, faster than anyone
	// can take it (events of no request: nobody may see them).
	burst := make([]*ent.Event, 4*e.app.Broker.Buffer)
	for i := range burst {
		burst[i] = &ent.Event{ID: 1<<40 + int64(i), Type: enums.EventTypeSectionUpdated, RequestID: uuid.New()}
	}
	e.app.Broker.Publish(burst)
	for _, s := range []*liveSub{dash, other} {
		_, errs := s.waitEnd(ctx, t)
		if len(errs) == 0 || liveCode(errs[0]) != "RATE_LIMITED" || !strings.Contains(errs[0].Message, "resume") {
			t.Errorf("dropped subscriber got %+v, want an error RATE_LIMITED saying to resume", errs)
		}
	}
	if c.err != nil {
		t.Fatalf("the connection itself ended: %v", c.err)
	}
	// It resumes with its cursor and misses nothing.
	e.must(careTeam, "SaveAdminSocial", map[string]any{"requestId": id, "input": map[string]any{"city": "Paris"}})
	again := c.subscribe(ctx, t, liveDashboard, "DashboardEvents", map[string]any{"after": liveField(got[0], "cursor")})
	liveCheckTypes(t, "resumed", again.waitCount(ctx, t, 1), []string{"SECTION_UPDATED"})
}

// TestSubscriptionLongBacklog: a client further behind than one page of
// replay gets every event, then the live ones.
func TestSubscriptionLongBacklog(t *testing.T) {
	ctx := liveCtx(t)
	e := newEnv(t)
	id := uuid.MustParse(e.draftRequest(prescriber))
	sys := viewer.System(context.Background())
	first, err := e.app.DB.Client.Event.Query().Order(ent.Desc("id")).First(sys)
	if err != nil {
		t.Fatal(err)
	}
	const total = 5500 // more than one page (backlogLimit 5000), a multiple of 500
	for done := 0; done < total; done += 500 {
		b := make([]*ent.EventCreate, 500)
		for i := range b {
			b[i] = e.app.DB.Client.Event.Create().SetType(enums.EventTypeSectionUpdated).SetRequestID(id).SetSection(enums.SectionKindCareProject)
		}
		if _, err := e.app.DB.Client.Event.CreateBulk(b...).Save(sys); err != nil {
			t.Fatal(err)
		}
	}
	// Those rows were written behind the publisher's back: the next
	// published event makes it catch up, in bursts larger than a
	// subscriber's buffer, which would drop live subscribers (a separate
	// matter, see TestSubscriptionSlowSubscriberDropped). Let it happen
	// before the client under test subscribes.
	c := liveMustDial(ctx, t, e, e.token(prescriber))
	markers := 0
	for caughtUp := false; !caughtUp; {
		n := e.app.Broker.Count()
		probe := c.subscribe(ctx, t, liveDashboard, "DashboardEvents", nil)
		for e.app.Broker.Count() <= n { // registered (or already dropped by the burst)
			if _, _, ended := probe.snapshot(); ended {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		e.must(careTeam, "SaveCareProject", map[string]any{"requestId": id.String(), "input": map[string]any{"dependence": fmt.Sprint(markers)}})
		markers++
		head, err := e.app.DB.Client.Event.Query().Order(ent.Desc("id")).First(sys)
		if err != nil {
			t.Fatal(err)
		}
		got := probe.waitFor(ctx, t, "the catch-up", func(got []liveEvent, ended bool) bool {
			return ended || len(got) > 0 && liveField(got[len(got)-1], "cursor") == liveMarshalCursor(entgql.Cursor[uuid.UUID]{Value: head.ID})
		})
		caughtUp = len(got) > 0 && liveField(got[len(got)-1], "cursor") == liveMarshalCursor(entgql.Cursor[uuid.UUID]{Value: head.ID})
		_ = c.unsubscribe(ctx, probe)
	}

	dash := c.subscribe(ctx, t, liveDashboard, "DashboardEvents", map[string]any{"after": liveMarshalCursor(entgql.Cursor[uuid.UUID]{Value: first.ID})})
	dash.waitCount(ctx, t, total+markers)
	e.must(careTeam, "SaveCareProject", map[string]any{"requestId": id.String(), "input": map[string]any{"stayGoal": "EVALUATION"}})
	got := dash.waitCount(ctx, t, total+markers+1)
	for i, ev := range got {
		if want := liveMarshalCursor(entgql.Cursor[uuid.UUID]{Value: first.ID + 1 + int64(i)}); liveField(ev, "cursor") != want {
			t.Fatalf("event %d of %d: cursor %s, want %s (a gap or a duplicate)", i, len(got), liveField(ev, "cursor"), want)
		}
	}
	if len(got) != total+markers+1 {
		t.Fatalf("got %d events, want %d", len(got), total+markers+1)
	}
}
