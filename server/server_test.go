package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"passerelle/apperr"
	"passerelle/enums"
	"passerelle/server/ide"
	"passerelle/server/reqctx"
	"passerelle/viewer"
)

// ---------------------------------------------------------------------------
// Fixtures

// testSchema is a hand-made executable schema (in the manner of gqlgen's
// handler/testserver) whose answers report what the context carries.
type testSchema struct {
	events chan struct{} // each value wakes one subscriber
}

func newTestSchema() *testSchema { return &testSchema{events: make(chan struct{})} }

var sdl = gqlparser.MustLoadSchema(&ast.Source{Input: `
	type Query { me: String, token: String, authError: String, client: String, requestId: String, boom: String }
	type Mutation { name: String! }
	type Subscription { me: String }
`})

// ctxReport is the data of every query and subscription event.
func ctxReport(ctx context.Context) []byte {
	m := map[string]any{
		"me":        nil,
		"token":     reqctx.BearerToken(ctx),
		"authError": nil,
		"client":    reqctx.ClientAddr(ctx),
		"requestId": reqctx.RequestID(ctx),
	}
	if v := viewer.FromContext(ctx); v != nil {
		m["me"] = v.Email
	}
	if err := reqctx.AuthError(ctx); err != nil {
		m["authError"] = err.Error()
	}
	b, _ := json.Marshal(m)
	return b
}

func (s *testSchema) executable() graphql.ExecutableSchema {
	return &graphql.ExecutableSchemaMock{
		SchemaFunc: func() *ast.Schema { return sdl },
		ComplexityFunc: func(context.Context, string, string, int, map[string]any) (int, bool) {
			return 1, true
		},
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			op := graphql.GetOperationContext(ctx)
			switch op.Operation.Operation {
			case ast.Query:
				if strings.Contains(op.RawQuery, "boom") {
					panic("kaboom")
				}
				if strings.Contains(op.RawQuery, "__schema") { // what generated code does
					if op.DisableIntrospection {
						return graphql.OneShot(graphql.ErrorResponse(ctx, "introspection disabled"))
					}
					return graphql.OneShot(&graphql.Response{Data: []byte(`{"__schema":{"queryType":{"name":"Query"}}}`)})
				}
				return graphql.OneShot(&graphql.Response{Data: ctxReport(ctx)})
			case ast.Mutation:
				return graphql.OneShot(&graphql.Response{Data: []byte(`{"name":"mutated"}`)})
			default:
				return func(context.Context) *graphql.Response {
					select {
					case <-ctx.Done():
						return nil
					case <-s.events:
						return &graphql.Response{Data: ctxReport(ctx)}
					}
				}
			}
		},
	}
}

// fakeAuth knows a few tokens; revoking one makes Authenticate fail.
type fakeAuth struct {
	mu     sync.Mutex
	tokens map[string]*viewer.Viewer
	// failNext makes that many next calls fail as a database would; -1:
	// every call. calls counts the calls.
	failNext int
	calls    chan struct{}
}

func newFakeAuth() *fakeAuth {
	return &fakeAuth{tokens: map[string]*viewer.Viewer{
		"alice-token": testViewer("alice@example.org"),
		"bob-token":   testViewer("bob@example.org"),
	}}
}

func testViewer(email string) *viewer.Viewer {
	unit := uuid.New()
	return &viewer.Viewer{
		UserID: uuid.New(), SessionID: uuid.New(), Email: email,
		Habilitations: []viewer.Habilitation{
			{ID: uuid.New(), Profile: enums.ProfileReceiverPhysician, StructureID: uuid.New(), UnitID: &unit},
			{ID: uuid.New(), Profile: enums.ProfileObserver, StructureID: uuid.New()},
		},
		ReceivingUnits: []uuid.UUID{unit},
	}
}

// errRevoked is what auth answers for a token that no longer authenticates.
var errRevoked = apperr.New(apperr.Unauthenticated, "session revoked; sign in again")

func (f *fakeAuth) Authenticate(_ context.Context, token string) (*viewer.Viewer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls != nil {
		select {
		case f.calls <- struct{}{}:
		default:
		}
	}
	if f.failNext != 0 {
		if f.failNext > 0 {
			f.failNext--
		}
		return nil, errors.New("database unreachable")
	}
	v, ok := f.tokens[token]
	if !ok {
		return nil, errRevoked
	}
	c := *v
	return &c, nil
}

func (f *fakeAuth) revoke(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, token)
}

// dropHabilitation removes the first habilitation of the token's viewer.
func (f *fakeAuth) dropHabilitation(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := *f.tokens[token]
	v.Habilitations = v.Habilitations[1:]
	f.tokens[token] = &v
}

type env struct {
	srv    *httptest.Server
	schema *testSchema
	auth   *fakeAuth
}

func newEnv(t *testing.T, cfg Config, deps Deps) *env {
	t.Helper()
	e := &env{schema: newTestSchema(), auth: newFakeAuth()}
	deps.Schema = e.schema.executable()
	deps.Auth = e.auth
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	e.srv = httptest.NewServer(New(cfg, deps))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) url(path string) string { return e.srv.URL + path }

func (e *env) wsURL() string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql" }

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func post(t *testing.T, url, contentType, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, req)
}

type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func decode(t *testing.T, body []byte) gqlResponse {
	t.Helper()
	var r gqlResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, body)
	}
	return r
}

// wantJSONError checks a GraphQL-shaped JSON error with the given code.
func wantJSONError(t *testing.T, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	r := decode(t, body)
	if len(r.Errors) != 1 || r.Errors[0].Message == "" {
		t.Fatalf("want one error, got %s", body)
	}
	if got := r.Errors[0].Extensions["code"]; got != code {
		t.Errorf("extensions.code = %v, want %s; body %s", got, code, body)
	}
}

const queryJSON = `{"query":"{ me token authError client requestId }"}`

// ---------------------------------------------------------------------------
// Websocket client (graphql-transport-ws)

type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(ctx context.Context, e *env, origin string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   h,
	})
}

func mustDialWS(ctx context.Context, t *testing.T, e *env, origin string) *wsClient {
	t.Helper()
	c, _, err := dialWS(ctx, e, origin)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if c.Subprotocol() != "graphql-transport-ws" {
		t.Fatalf("subprotocol = %q", c.Subprotocol())
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}
}

func (w *wsClient) send(ctx context.Context, msg map[string]any) {
	w.t.Helper()
	b, _ := json.Marshal(msg)
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("write %s: %v", b, err)
	}
}

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// read returns the next message, answering pings on the way.
func (w *wsClient) read(ctx context.Context) (wsMessage, error) {
	for {
		_, b, err := w.c.Read(ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			w.t.Fatalf("bad message %s: %v", b, err)
		}
		if m.Type == "ping" {
			_ = w.c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			continue
		}
		return m, nil
	}
}

func (w *wsClient) expect(ctx context.Context, typ string) wsMessage {
	w.t.Helper()
	m, err := w.read(ctx)
	if err != nil {
		w.t.Fatalf("waiting for %s: %v", typ, err)
	}
	if m.Type != typ {
		w.t.Fatalf("got %s (%s), want %s", m.Type, m.Payload, typ)
	}
	return m
}

// waitClose reads until the server closes the connection and returns the
// close status and reason.
func (w *wsClient) waitClose(ctx context.Context) (websocket.StatusCode, string) {
	w.t.Helper()
	for {
		_, err := w.read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			w.t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce.Code, ce.Reason
	}
}

func (w *wsClient) init(ctx context.Context, payload map[string]any) {
	w.t.Helper()
	msg := map[string]any{"type": "connection_init"}
	if payload != nil {
		msg["payload"] = payload
	}
	w.send(ctx, msg)
}

func (w *wsClient) subscribe(ctx context.Context, id string) {
	w.send(ctx, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": "subscription { me }"}})
}

// connect dials, authenticates with token and subscribes.
func connect(ctx context.Context, t *testing.T, e *env, token string) *wsClient {
	t.Helper()
	w := mustDialWS(ctx, t, e, "")
	w.init(ctx, map[string]any{"Authorization": "Bearer " + token})
	w.expect(ctx, "connection_ack")
	w.subscribe(ctx, "1")
	return w
}

func (e *env) fire(ctx context.Context, t *testing.T) {
	t.Helper()
	select {
	case e.schema.events <- struct{}{}:
	case <-ctx.Done():
		t.Fatal("no subscriber took the event")
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ---------------------------------------------------------------------------
// CORS

func TestCORS(t *testing.T) {
	preflight := func(e *env, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.url("/graphql"), nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, _ := do(t, req)
		return res
	}
	e := newEnv(t, Config{CORSOrigins: []string{"https://app.example.org"}}, Deps{})

	res := preflight(e, "https://evil.example")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("unlisted origin: Access-Control-Allow-Origin = %q", got)
	}

	res = preflight(e, "https://app.example.org")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.org" {
		t.Errorf("listed origin: Access-Control-Allow-Origin = %q", got)
	}
	if got := res.Header.Get("Access-Control-Max-Age"); got != "600" {
		t.Errorf("Access-Control-Max-Age = %q", got)
	}
	if got := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
		t.Errorf("Access-Control-Allow-Headers = %q", got)
	}
	if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("Access-Control-Allow-Credentials = %q", got)
	}

	// An actual request from the listed origin gets the header too.
	r, _ := post(t, e.url("/graphql"), "application/json", queryJSON, http.Header{"Origin": {"https://app.example.org"}})
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.org" {
		t.Errorf("POST from listed origin: Access-Control-Allow-Origin = %q", got)
	}

	// No origin configured: no CORS headers at all.
	e = newEnv(t, Config{}, Deps{})
	res = preflight(e, "https://app.example.org")
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("no origins configured, got %s: %s", k, res.Header.Get(k))
		}
	}
}

// ---------------------------------------------------------------------------
// Websockets

func TestWebsocketOrigin(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, Config{CORSOrigins: []string{"https://app.example.org"}}, Deps{})

	_, res, err := dialWS(ctx, e, "https://evil.example")
	if err == nil {
		t.Fatal("foreign origin accepted")
	}
	if res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: response %v, err %v", res, err)
	}

	for _, origin := range []string{"https://app.example.org", e.srv.URL /* same origin */, "" /* not a browser */} {
		w := mustDialWS(ctx, t, e, origin)
		w.init(ctx, map[string]any{"Authorization": "Bearer alice-token"})
		w.expect(ctx, "connection_ack")
		w.c.Close(websocket.StatusNormalClosure, "")
	}

	// Cross-origin is refused by default.
	e = newEnv(t, Config{}, Deps{})
	if _, res, err := dialWS(ctx, e, "https://app.example.org"); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("no origins configured: cross-origin upgrade: %v %v", res, err)
	}
}

func TestWebsocketInitRejected(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, Config{}, Deps{})
	for name, payload := range map[string]map[string]any{
		"no payload":      nil,
		"no token":        {"foo": "bar"},
		"unknown token":   {"Authorization": "Bearer mallory-token"},
		"not bearer":      {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
		"empty bearer":    {"authorization": "Bearer "},
		"revoked raw":     {"token": "mallory-token"},
		"non-string auth": {"Authorization": 42},
	} {
		t.Run(name, func(t *testing.T) {
			w := mustDialWS(ctx, t, e, "")
			w.init(ctx, payload)
			code, reason := w.waitClose(ctx)
			if code != CloseForbidden || reason != "Forbidden" {
				t.Fatalf("close = %d %q, want 4403 Forbidden", code, reason)
			}
		})
	}
}

func TestWebsocketViewerInContext(t *testing.T) {
	ctx := testCtx(t)
	for key, value := range map[string]string{
		"Authorization": "Bearer alice-token",
		"authorization": "bearer alice-token",
		"token":         "alice-token",
	} {
		t.Run(key, func(t *testing.T) {
			e := newEnv(t, Config{}, Deps{})
			w := mustDialWS(ctx, t, e, "")
			w.init(ctx, map[string]any{key: value})
			w.expect(ctx, "connection_ack")
			w.subscribe(ctx, "1")
			e.fire(ctx, t)
			m := w.expect(ctx, "next")
			var p gqlResponse
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if p.Data["me"] != "alice@example.org" || p.Data["token"] != "alice-token" {
				t.Fatalf("event data = %v", p.Data)
			}
			if id, _ := p.Data["requestId"].(string); id == "" {
				t.Errorf("no request id in a websocket operation")
			}
			w.c.Close(websocket.StatusNormalClosure, "")
		})
	}
}

func TestWebsocketClosedOnRevocation(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, Config{ReauthInterval: 50 * time.Millisecond}, Deps{})

	t.Run("session revoked", func(t *testing.T) {
		w := connect(ctx, t, e, "alice-token")
		e.fire(ctx, t)
		w.expect(ctx, "next")
		e.auth.revoke("alice-token")
		code, reason := w.waitClose(ctx)
		if code != CloseForbidden || reason != ReasonSessionEnded {
			t.Fatalf("close = %d %q, want %d %q", code, reason, CloseForbidden, ReasonSessionEnded)
		}
	})

	t.Run("habilitation revoked", func(t *testing.T) {
		w := connect(ctx, t, e, "bob-token")
		e.fire(ctx, t)
		w.expect(ctx, "next")
		e.auth.dropHabilitation("bob-token")
		code, reason := w.waitClose(ctx)
		if code != CloseForbidden || reason != ReasonHabilitationRevoked {
			t.Fatalf("close = %d %q, want %d %q", code, reason, CloseForbidden, ReasonHabilitationRevoked)
		}
	})
}

// A re-authentication that cannot run (the database is down) is not a
// revocation: a few in a row are tolerated; more close the connection with
// 1013 "try again later", not 4403.
func TestWebsocketReauthFailureIsNotRevocation(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, Config{ReauthInterval: 20 * time.Millisecond}, Deps{})
	calls := make(chan struct{})
	setFailures := func(n int) {
		e.auth.mu.Lock()
		e.auth.failNext, e.auth.calls = n, calls
		e.auth.mu.Unlock()
	}

	t.Run("a short outage keeps the connection", func(t *testing.T) {
		w := connect(ctx, t, e, "alice-token")
		setFailures(reauthFailuresTolerated - 1)
		// The failing checks, then one that succeeds again.
		for range reauthFailuresTolerated {
			select {
			case <-calls:
			case <-ctx.Done():
				t.Fatal("no re-authentication")
			}
		}
		e.fire(ctx, t)
		w.expect(ctx, "next")
		w.c.Close(websocket.StatusNormalClosure, "")
	})

	t.Run("a long outage asks the client to reconnect", func(t *testing.T) {
		w := connect(ctx, t, e, "bob-token")
		setFailures(-1)
		code, reason := w.waitClose(ctx)
		setFailures(0)
		if code != CloseTryAgainLater || reason != ReasonCannotRecheck {
			t.Fatalf("close = %d %q, want %d %q", code, reason, CloseTryAgainLater, ReasonCannotRecheck)
		}
	})
}

func TestWebsocketNoGoroutineLeak(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, Config{ReauthInterval: 20 * time.Millisecond, MaxConnectionsPerUser: 100}, Deps{})
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	// Warm up (lazy pools, timers), then count.
	w := connect(ctx, t, e, "alice-token")
	w.c.Close(websocket.StatusNormalClosure, "")
	time.Sleep(100 * time.Millisecond)
	before := settle()

	const n = 40
	var clients []*wsClient
	for range n {
		clients = append(clients, connect(ctx, t, e, "alice-token"))
	}
	for range 3 { // a few events reach some subscribers
		e.fire(ctx, t)
	}
	// Half close themselves; the others are closed by the server on revocation.
	t.Logf("goroutines with %d websockets open: %d", n, settle())
	for _, c := range clients[:n/2] {
		c.c.Close(websocket.StatusNormalClosure, "")
	}
	e.auth.revoke("alice-token")
	for _, c := range clients[n/2:] {
		if code, _ := c.waitClose(ctx); code != CloseForbidden && code != websocket.StatusNormalClosure {
			t.Errorf("close code %d", code)
		}
	}

	const tolerance = 3
	var after int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if after = settle(); after <= before+tolerance {
			t.Logf("goroutines: %d before, %d after closing %d websockets", before, after, n)
			return
		}
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("goroutines: %d before, %d after closing %d websockets\n%s", before, after, n, buf[:runtime.Stack(buf, true)])
}

// ---------------------------------------------------------------------------
// HTTP transports

func TestHTTPAuthentication(t *testing.T) {
	e := newEnv(t, Config{}, Deps{})
	cases := []struct {
		name, header, me, token, authError string
	}{
		{"anonymous", "", "", "", ""},
		{"valid", "Bearer alice-token", "alice@example.org", "alice-token", ""},
		{"lower-case scheme", "bearer alice-token", "alice@example.org", "alice-token", ""},
		{"rejected", "Bearer mallory-token", "", "mallory-token", errRevoked.Error()},
		{"malformed", "Basic YWxpY2U6c2VjcmV0", "", "", reqctx.ErrMalformedAuthorization.Error()},
		{"empty bearer", "Bearer", "", "", reqctx.ErrMalformedAuthorization.Error()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set("Authorization", c.header)
			}
			res, body := post(t, e.url("/graphql"), "application/json", queryJSON, h)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			d := decode(t, body).Data
			str := func(k string) string { s, _ := d[k].(string); return s }
			if str("me") != c.me || str("token") != c.token || str("authError") != c.authError {
				t.Fatalf("got %v", d)
			}
			if str("client") != "127.0.0.1" {
				t.Errorf("client = %q", str("client"))
			}
		})
	}
}

func TestGET(t *testing.T) {
	e := newEnv(t, Config{CORSOrigins: []string{"https://app.example.org"}}, Deps{})
	q := func(query string) string { return e.url("/graphql?query=" + url.QueryEscape(query)) }

	t.Run("mutation refused", func(t *testing.T) {
		res, body := get(t, q("mutation { name }"), http.Header{"Graphql-Require-Preflight": {"1"}})
		if res.StatusCode < 400 || res.StatusCode > 499 || len(decode(t, body).Errors) == 0 {
			t.Fatalf("GET mutation: %d %s", res.StatusCode, body)
		}
		if strings.Contains(string(body), "mutated") {
			t.Fatal("the mutation ran")
		}
	})

	cases := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no header (not a browser)", nil, 200},
		{"same-origin browser", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 200},
		{"address bar", http.Header{"Sec-Fetch-Site": {"none"}}, 200},
		{"cross-site no-cors", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Sec-Fetch-Mode": {"no-cors"}}, 403},
		{"same-site", http.Header{"Sec-Fetch-Site": {"same-site"}}, 403},
		{"cross-site CORS from a foreign origin", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, 403},
		{"foreign origin, no fetch metadata", http.Header{"Origin": {"https://evil.example"}}, 403},
		{"cross-site from a configured origin", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://app.example.org"}}, 200},
		{"cross-site with GraphQL-Require-Preflight", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Graphql-Require-Preflight": {"1"}}, 200},
		{"cross-site with Authorization", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Authorization": {"Bearer alice-token"}}, 200},
		{"cross-site with simple Content-Type", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Content-Type": {"text/plain"}}, 403},
		{"cross-site with JSON Content-Type", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Content-Type": {"application/json"}}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := get(t, q("{ me }"), c.header)
			if c.want == 403 {
				wantJSONError(t, res, body, 403, "FORBIDDEN")
				return
			}
			if res.StatusCode != c.want {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.want, body)
			}
		})
	}
}

func TestPOSTContentType(t *testing.T) {
	e := newEnv(t, Config{}, Deps{})
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/graphql", ""} {
		t.Run(ct, func(t *testing.T) {
			res, body := post(t, e.url("/graphql"), ct, queryJSON, nil)
			wantJSONError(t, res, body, http.StatusUnsupportedMediaType, "BAD_USER_INPUT")
		})
	}
	res, body := post(t, e.url("/graphql"), "application/json; charset=utf-8", queryJSON, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("application/json: %d %s", res.StatusCode, body)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 1024}, Deps{})
	big := `{"query":"{ me }","variables":{"pad":"` + strings.Repeat("x", 2048) + `"}}`

	res, body := post(t, e.url("/graphql"), "application/json", big, nil)
	wantJSONError(t, res, body, http.StatusRequestEntityTooLarge, "BAD_USER_INPUT")

	// Without Content-Length (chunked) too.
	req, _ := http.NewRequest(http.MethodPost, e.url("/graphql"), io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	res, body = do(t, req)
	wantJSONError(t, res, body, http.StatusRequestEntityTooLarge, "BAD_USER_INPUT")

	// The exact shape.
	var shape struct {
		Errors []map[string]json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &shape); err != nil || len(shape.Errors) != 1 {
		t.Fatalf("body %s", body)
	}
	if _, ok := shape.Errors[0]["message"]; !ok {
		t.Errorf("no message: %s", body)
	}
}

func TestMalformedBody(t *testing.T) {
	e := newEnv(t, Config{}, Deps{})
	for _, b := range []string{``, `{"query": "{ me }"`, `[{"query":"{ me }"}]`, `{"query": 42}`, `{"query":"{ me }","variables":"secret-patient-name"}`} {
		res, body := post(t, e.url("/graphql"), "application/json", b, nil)
		wantJSONError(t, res, body, http.StatusBadRequest, "BAD_USER_INPUT")
		if b != "" && strings.Contains(string(body), "secret-patient-name") {
			t.Errorf("the body is echoed: %s", body)
		}
	}
}

func TestSSE(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, Config{}, Deps{})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url("/graphql"), strings.NewReader(`{"query":"subscription { me }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer alice-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	go func() {
		select {
		case e.schema.events <- struct{}{}:
		case <-ctx.Done():
		}
	}()
	buf := make([]byte, 4096)
	var got bytes.Buffer
	for !strings.Contains(got.String(), "alice@example.org") {
		n, err := res.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("stream ended: %v: %s", err, got.String())
		}
	}
	if !strings.Contains(got.String(), "event: next") {
		t.Fatalf("stream %s", got.String())
	}
}

func TestMethods(t *testing.T) {
	e := newEnv(t, Config{}, Deps{})
	req, _ := http.NewRequest(http.MethodDelete, e.url("/graphql"), nil)
	res, body := do(t, req)
	wantJSONError(t, res, body, http.StatusMethodNotAllowed, "BAD_USER_INPUT")
	if res.Header.Get("Allow") == "" {
		t.Error("no Allow header")
	}
}

func TestIntrospection(t *testing.T) {
	const q = `{"query":"{ __schema { queryType { name } } }"}`
	e := newEnv(t, Config{}, Deps{})
	_, body := post(t, e.url("/graphql"), "application/json", q, nil)
	if r := decode(t, body); len(r.Errors) == 0 {
		t.Errorf("introspection disabled but answered: %s", body)
	}
	e = newEnv(t, Config{EnableIntrospection: true}, Deps{})
	_, body = post(t, e.url("/graphql"), "application/json", q, nil)
	if r := decode(t, body); len(r.Errors) != 0 {
		t.Errorf("introspection enabled but refused: %s", body)
	}
}

func TestRecoverAndRequestID(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, Config{}, Deps{Logger: logger})

	res, body := post(t, e.url("/graphql"), "application/json", `{"query":"{ boom }"}`,
		http.Header{"X-Request-Id": {"req-123"}, "Authorization": {"Bearer alice-token"}})
	if got := res.Header.Get("X-Request-Id"); got != "req-123" {
		t.Errorf("X-Request-Id = %q", got)
	}
	r := decode(t, body)
	if len(r.Errors) != 1 || r.Errors[0].Message != "internal error" ||
		r.Errors[0].Extensions["code"] != "INTERNAL" || r.Errors[0].Extensions["requestId"] != "req-123" {
		t.Fatalf("panic answer: %d %s", res.StatusCode, body)
	}
	if strings.Contains(string(body), "kaboom") {
		t.Error("panic value leaked")
	}

	// Request ids: a sane one is kept, an insane one replaced.
	_, body = post(t, e.url("/graphql"), "application/json", queryJSON, http.Header{"X-Request-Id": {"abc\u00e9 def"}})
	id, _ := decode(t, body).Data["requestId"].(string)
	if id == "" || strings.Contains(id, " ") {
		t.Errorf("request id %q", id)
	}

	mu.Lock()
	defer mu.Unlock()
	out := logs.String()
	if !strings.Contains(out, "kaboom") || !strings.Contains(out, `"request_id":"req-123"`) {
		t.Errorf("panic not logged with its request id:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"http request"`) || !strings.Contains(out, `"path":"/graphql"`) {
		t.Errorf("no access log:\n%s", out)
	}
	if strings.Contains(out, "alice-token") || strings.Contains(out, "boom }") {
		t.Errorf("token or body in the logs:\n%s", out)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// ---------------------------------------------------------------------------
// Health, headers, IDE

func TestHealth(t *testing.T) {
	var mu sync.Mutex
	readyErr := errors.New("database not migrated")
	e := newEnv(t, Config{}, Deps{Ready: func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return readyErr
	}})

	res, body := get(t, e.url("/healthz"), nil)
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("/healthz: %d %q", res.StatusCode, body)
	}
	res, body = get(t, e.url("/readyz"), nil)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "database not migrated") {
		t.Fatalf("/readyz not ready: %d %q", res.StatusCode, body)
	}
	mu.Lock()
	readyErr = nil
	mu.Unlock()
	res, body = get(t, e.url("/readyz"), nil)
	if res.StatusCode != 200 {
		t.Fatalf("/readyz ready: %d %q", res.StatusCode, body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, Config{BehindTLS: tls, EnableIDE: true}, Deps{})
		check := func(res *http.Response, csp string) {
			t.Helper()
			for k, want := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
				"Content-Security-Policy": csp,
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s %s: %s = %q, want %q", res.Request.Method, res.Request.URL.Path, k, got, want)
				}
			}
			if got := res.Header.Get("Strict-Transport-Security"); (got != "") != tls {
				t.Errorf("BehindTLS=%v: Strict-Transport-Security = %q", tls, got)
			}
			if res.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		}
		res, _ := post(t, e.url("/graphql"), "application/json", queryJSON, nil)
		check(res, ContentSecurityPolicy)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("/graphql Cache-Control = %q", res.Header.Get("Cache-Control"))
		}
		res, _ = post(t, e.url("/graphql"), "text/plain", queryJSON, nil)
		check(res, ContentSecurityPolicy)
		res, _ = get(t, e.url("/healthz"), nil)
		check(res, ContentSecurityPolicy)
		res, _ = get(t, e.url("/"), nil)
		check(res, ide.ContentSecurityPolicy)
	}
}

func TestIDE(t *testing.T) {
	e := newEnv(t, Config{EnableIDE: true}, Deps{})
	for _, p := range []string{"/", "/playground", "/playground/"} {
		res, body := get(t, e.url(p), nil)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("<")) {
			t.Errorf("IDE at %s: %d %s", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	e = newEnv(t, Config{}, Deps{})
	for _, p := range []string{"/", "/playground", "/playground/"} {
		if res, _ := get(t, e.url(p), nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("IDE disabled, %s: %d", p, res.StatusCode)
		}
	}
}

func TestClientAddr(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.1:5555"
	r.Header.Set("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
	if got := clientAddr(r, false); got != "192.0.2.1" {
		t.Errorf("untrusted: %q", got)
	}
	if got := clientAddr(r, true); got != "198.51.100.7" {
		t.Errorf("trusted: %q", got)
	}
	r.Header.Set("X-Forwarded-For", "garbage")
	if got := clientAddr(r, true); got != "192.0.2.1" {
		t.Errorf("trusted, bad header: %q", got)
	}
	r.RemoteAddr = "[::ffff:10.0.0.1]:80"
	if got := clientAddr(r, false); got != "10.0.0.1" {
		t.Errorf("mapped v6: %q", got)
	}
}

// ---------------------------------------------------------------------------
// Run

type recordHandler struct {
	slog.Handler
	addrs chan string
}

func (h recordHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" && r.Message == "listening" {
			h.addrs <- a.Value.String()
		}
		return true
	})
	return nil
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordHandler) WithGroup(string) slog.Handler            { return h }

func TestRun(t *testing.T) {
	schema := newTestSchema()
	h := New(Config{}, Deps{Schema: schema.executable(), Auth: newFakeAuth()})
	addrs := make(chan string, 1)
	logger := slog.New(recordHandler{Handler: slog.DiscardHandler, addrs: addrs})

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, "127.0.0.1:0", h, logger) }()

	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not log its address")
	}
	res, body := get(t, "http://"+addr+"/healthz", nil)
	if res.StatusCode != 200 {
		t.Fatalf("/healthz: %d %s", res.StatusCode, body)
	}

	// An open websocket is told the server is going away.
	wctx := testCtx(t)
	c, _, err := websocket.Dial(wctx, "ws://"+addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	w := &wsClient{t: t, c: c}
	w.init(wctx, map[string]any{"token": "alice-token"})
	w.expect(wctx, "connection_ack")
	w.subscribe(wctx, "1")

	stop()
	code, reason := w.waitClose(wctx)
	if code != CloseGoingAway {
		t.Errorf("close on shutdown = %d %q", code, reason)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestNewRequiresDeps(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New without schema did not panic")
		}
	}()
	New(Config{}, Deps{})
}

// Configure sees the handler after the transports are in place.
func TestConfigure(t *testing.T) {
	called := false
	e := newEnv(t, Config{}, Deps{Configure: func(s *handler.Server) {
		called = true
		s.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
			r := next(ctx)
			if r != nil {
				r.Extensions = map[string]any{"configured": true}
			}
			return r
		})
	}})
	if !called {
		t.Fatal("Configure not called")
	}
	_, body := post(t, e.url("/graphql"), "application/json", queryJSON, nil)
	if !strings.Contains(string(body), `"configured":true`) {
		t.Errorf("extension not applied: %s", body)
	}
}
