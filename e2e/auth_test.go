package e2e

// Sign-in through the real HTTP handler: Login, Logout, Viewer, sessions
// (only the token's hash is stored; absolute expiry and idle timeout on an
// injected clock), failed-login throttling per account and per client
// address, disabled accounts, password age and changePassword, revoked and
// expired habilitations, set-up tokens and demo accounts outside demo mode.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"passerelle/app"
	"passerelle/auth"
	"passerelle/demo"
	"passerelle/ent/habilitation"
	"passerelle/ent/session"
	"passerelle/ent/user"
	"passerelle/graph"
	"passerelle/server"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// testClock is a settable clock for auth.Config.Now. It starts at the real
// time (the demo data set is loaded with the real clock) and only moves when
// told to, so that waits and expiries are exact.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now().UTC()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newEnvWith is newEnv with a configuration hook (clock, TTLs, proxy…): a
// real server on a fresh database (see storetest) with the demo data set.
// The per-user mutation rate limit is lifted: these tests replay whole
// stories, and concurrent bursts, as one account.
func newEnvWith(t *testing.T, configure func(*app.Config)) *env {
	t.Helper()
	cfg := app.Config{
		Store:  store.Config{DatabaseURL: storetest.DatabaseURL(t)},
		Server: server.Config{EnableIntrospection: true},
		Limits: graph.Limits{MutationsPerMinute: 1 << 20, MutationBurst: 1 << 20},
		Demo:   true,
		Logger: testLogger(),
	}
	if configure != nil {
		configure(&cfg)
	}
	return startEnv(t, cfg)
}

// startEnv runs a server with the given configuration until the test ends.
func startEnv(t *testing.T, cfg app.Config) *env {
	t.Helper()
	a, err := app.New(context.Background(), cfg)
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

// gqlDo posts one GraphQL request without touching testing.T, so that it can
// run on any goroutine. addr, when set, is sent as X-Forwarded-For (the
// server must trust the proxy for it to count).
func gqlDo(baseURL, addr, token, query, opName string, vars map[string]any) (result, int, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": opName, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, baseURL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return result{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, 0, err
	}
	defer resp.Body.Close()
	var r result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return result{}, resp.StatusCode, fmt.Errorf("%s: decoding response (HTTP %d): %w", opName, resp.StatusCode, err)
	}
	return r, resp.StatusCode, nil
}

// postFrom is e.post from a given client address (X-Forwarded-For).
func (e *env) postFrom(addr, token, query, opName string, vars map[string]any) result {
	e.t.Helper()
	r, _, err := gqlDo(e.srv.URL, addr, token, query, opName, vars)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// login runs the contract's Login (without caching the token).
func (e *env) login(email, password string) result {
	e.t.Helper()
	return e.post("", contract, "Login", map[string]any{"email": email, "password": password})
}

func (e *env) loginFrom(addr, email, password string) result {
	e.t.Helper()
	return e.postFrom(addr, "", contract, "Login", map[string]any{"email": email, "password": password})
}

// mustLogin signs in and returns the token.
func (e *env) mustLogin(email, password string) string {
	e.t.Helper()
	r := e.login(email, password)
	if len(r.Errors) > 0 {
		e.t.Fatalf("login %s: %+v", email, r.Errors)
	}
	tok := str(r.Data, "login.token")
	if tok == "" {
		e.t.Fatalf("login %s: no token in %v", email, r.Data)
	}
	return tok
}

// wantCode fails unless r's first error has the code (and, for
// BAD_USER_INPUT, the field when given).
func wantCode(t *testing.T, what string, r result, code, field string) {
	t.Helper()
	if r.code() != code {
		t.Fatalf("%s: want %s, got data=%v errors=%+v", what, code, r.Data, r.Errors)
	}
	if field != "" {
		if f, _ := r.Errors[0].Extensions["field"].(string); f != field {
			t.Fatalf("%s: want field %q, got %+v", what, field, r.Errors[0])
		}
	}
}

func wantOK(t *testing.T, what string, r result) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %+v", what, r.Errors)
	}
}

// Documents beyond the contract.
const (
	qViewerFull = `query ViewerFull {
  viewer { id email passwordExpired habilitations { id profile validUntil structure { id } unit { id } } }
}`
	mChangePassword = `mutation ChangePassword($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next)
}`
	mRevokeHabilitation = `mutation RevokeHabilitation($id: ID!) {
  revokeHabilitation(id: $id) { id revokedAt }
}`
	mDisableUser = `mutation DisableUser($id: ID!) {
  disableUser(id: $id) { id disabled }
}`
	mCreateUser = `mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) { user { id email } setupToken setupTokenExpiresAt }
}`
	qRequestSeen = `query RequestSeen($id: ID!) {
  node(id: $id) { id ... on AdmissionRequest { reference status } }
}`
	mSetupPassword = `mutation SetupPassword($token: String!, $password: String!) {
  setupPassword(setupToken: $token, newPassword: $password) { token expiresAt viewer { id email } }
}`
)

// badCredentials is the answer to a wrong password on an existing account:
// every refused sign-in must look exactly like it.
func (e *env) badCredentials() gqlError {
	e.t.Helper()
	r := e.postFrom("198.51.100.250", "", contract, "Login", map[string]any{"email": observer, "password": "not the password at all"})
	wantCode(e.t, "reference wrong password", r, "UNAUTHENTICATED", "")
	return r.Errors[0]
}

// sameRefusal fails unless r is refused exactly like ref (code, message,
// extensions) and carries no data.
func sameRefusal(t *testing.T, what string, r result, ref gqlError) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("%s: want one error like %+v, got data=%v errors=%+v", what, ref, r.Data, r.Errors)
	}
	got := r.Errors[0]
	gj, _ := json.Marshal(got.Extensions)
	rj, _ := json.Marshal(ref.Extensions)
	if got.Message != ref.Message || string(gj) != string(rj) {
		t.Fatalf("%s: refused differently from wrong credentials:\n got %q %s\nwant %q %s", what, got.Message, gj, ref.Message, rj)
	}
	if r.Data != nil && r.Data["login"] != nil {
		t.Fatalf("%s: data %v", what, r.Data)
	}
}

func (e *env) userID(email string) string {
	e.t.Helper()
	u, err := e.app.DB.Client.User.Query().Where(user.Email(email)).Only(viewer.System(context.Background()))
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID.String()
}

func TestLoginOK(t *testing.T) {
	e := newEnv(t)
	before := time.Now()
	r := e.login(prescriber, demo.Password)
	after := time.Now()
	wantOK(t, "login", r)
	tok := str(r.Data, "login.token")
	if len(tok) < 32 {
		t.Fatalf("token %q is too short to be a random bearer token", tok)
	}
	exp, err := time.Parse(time.RFC3339, str(r.Data, "login.expiresAt"))
	if err != nil {
		t.Fatalf("expiresAt %q: %v", str(r.Data, "login.expiresAt"), err)
	}
	if exp.Before(before.Add(12*time.Hour-time.Minute)) || exp.After(after.Add(12*time.Hour+time.Minute)) {
		t.Fatalf("expiresAt %s, want about %s (12 h)", exp, before.Add(12*time.Hour))
	}
	if str(r.Data, "login.viewer.email") != prescriber || str(r.Data, "login.viewer.id") == "" {
		t.Fatalf("viewer %v", get(r.Data, "login.viewer"))
	}

	v := e.post(tok, contract, "Viewer", nil)
	wantOK(t, "viewer", v)
	if str(v.Data, "viewer.email") != prescriber || str(v.Data, "viewer.id") != str(r.Data, "login.viewer.id") {
		t.Fatalf("viewer %v", v.Data)
	}
	habs, _ := get(v.Data, "viewer.habilitations").([]any)
	if len(habs) != 1 || str(habs[0], "profile") != "PRESCRIBER_PHYSICIAN" {
		t.Fatalf("habilitations %v", habs)
	}

	if tok2 := e.mustLogin(prescriber, demo.Password); tok2 == tok {
		t.Fatal("two sign-ins gave the same token")
	}
	// Without a token, or with a made-up one, nothing but login works.
	wantCode(t, "viewer without token", e.post("", contract, "Viewer", nil), "UNAUTHENTICATED", "")
	wantCode(t, "viewer with a made-up token", e.post("x"+tok[1:]+"y", contract, "Viewer", nil), "UNAUTHENTICATED", "")
}

func TestLoginWrongCredentialsSameAnswer(t *testing.T) {
	e := newEnv(t)
	wrong := e.login(prescriber, "demo-passerelle-2025")
	unknown := e.login("personne@diaconesses.demo", "demo-passerelle-2025")
	wantCode(t, "wrong password", wrong, "UNAUTHENTICATED", "")
	wantCode(t, "unknown e-mail", unknown, "UNAUTHENTICATED", "")
	sameRefusal(t, "unknown e-mail vs wrong password", unknown, wrong.Errors[0])
	if strings.Contains(strings.ToLower(wrong.Errors[0].Message), "unknown") || strings.Contains(wrong.Errors[0].Message, prescriber) {
		t.Fatalf("the message tells too much: %q", wrong.Errors[0].Message)
	}
	// An empty password, a password with the right prefix: the same answer.
	sameRefusal(t, "empty password", e.login(careTeam, ""), wrong.Errors[0])
	sameRefusal(t, "unknown e-mail, demo password", e.login("inconnu@pompidou.demo", demo.Password), wrong.Errors[0])
}

func TestSessionStoresOnlyTokenHash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.mustLogin(prescriber, demo.Password)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		raw = nil
	}

	sessions, err := e.app.DB.Client.Session.Query().All(viewer.System(ctx))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range sessions {
		if bytes.Equal(s.TokenHash, auth.HashToken(tok)) {
			found = true
		}
		if bytes.Contains(s.TokenHash, []byte(tok)) || (raw != nil && bytes.Equal(s.TokenHash, raw)) ||
			strings.Contains(s.ClientAddress, tok) || s.ID.String() == tok {
			t.Fatalf("session %s stores the token itself", s.ID)
		}
	}
	if !found {
		t.Fatalf("no session holds the token's hash (%d sessions)", len(sessions))
	}

	// Every column of every row, read raw.
	rows, err := e.app.DB.SQL.QueryContext(ctx, "SELECT * FROM "+session.Table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		n++
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			var b []byte
			switch x := v.(type) {
			case []byte:
				b = x
			case string:
				b = []byte(x)
			default:
				continue
			}
			if bytes.Contains(b, []byte(tok)) || (raw != nil && bytes.Contains(b, raw)) {
				t.Fatalf("column %s of sessions holds the bearer token", cols[i])
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no session row")
	}
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	tok := e.mustLogin(careTeam, demo.Password)
	other := e.mustLogin(careTeam, demo.Password)
	r := e.post(tok, contract, "Logout", nil)
	wantOK(t, "logout", r)
	if get(r.Data, "logout") != true {
		t.Fatalf("logout answered %v", r.Data)
	}
	wantCode(t, "viewer after logout", e.post(tok, contract, "Viewer", nil), "UNAUTHENTICATED", "")
	wantCode(t, "units after logout", e.post(tok, contract, "UspUnits", nil), "UNAUTHENTICATED", "")
	wantCode(t, "logout twice", e.post(tok, contract, "Logout", nil), "UNAUTHENTICATED", "")
	wantCode(t, "logout without token", e.post("", contract, "Logout", nil), "UNAUTHENTICATED", "")
	// Only that session ends.
	wantOK(t, "the other session", e.post(other, contract, "Viewer", nil))
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	clock := newTestClock()
	e := newEnvWith(t, func(c *app.Config) { c.Auth.Now = clock.Now })

	t.Run("idle timeout", func(t *testing.T) {
		tok := e.mustLogin(prescriber, demo.Password)
		clock.Advance(29 * time.Minute)
		wantOK(t, "after 29 min", e.post(tok, contract, "Viewer", nil))
		clock.Advance(29 * time.Minute) // 58 min after sign-in, 29 after the last request
		wantOK(t, "activity keeps the session alive", e.post(tok, contract, "UspUnits", nil))
		clock.Advance(31 * time.Minute)
		wantCode(t, "idle 31 min", e.post(tok, contract, "Viewer", nil), "UNAUTHENTICATED", "")
		wantOK(t, "a new sign-in", e.post(e.mustLogin(prescriber, demo.Password), contract, "Viewer", nil))
	})

	t.Run("absolute expiry despite activity", func(t *testing.T) {
		start := clock.Now()
		r := e.login(prescriber, demo.Password)
		wantOK(t, "login", r)
		tok := str(r.Data, "login.token")
		exp, _ := time.Parse(time.RFC3339, str(r.Data, "login.expiresAt"))
		if d := exp.Sub(start); d < 12*time.Hour-time.Second || d > 12*time.Hour+time.Second {
			t.Fatalf("expiresAt is %s after sign-in, want 12 h", d)
		}
		for elapsed := 20 * time.Minute; elapsed <= 13*time.Hour; elapsed += 20 * time.Minute {
			clock.Advance(20 * time.Minute)
			res := e.post(tok, contract, "Viewer", nil)
			if elapsed < 12*time.Hour {
				wantOK(t, fmt.Sprintf("active session after %s", elapsed), res)
			} else {
				wantCode(t, fmt.Sprintf("session after %s", elapsed), res, "UNAUTHENTICATED", "")
			}
		}
	})

	t.Run("configurable", func(t *testing.T) {
		clock := newTestClock()
		e := newEnvWith(t, func(c *app.Config) {
			c.Auth.Now = clock.Now
			c.Auth.TokenTTL = time.Hour
			c.Auth.IdleTimeout = 5 * time.Minute
		})
		start := clock.Now()
		r := e.login(careTeam, demo.Password)
		wantOK(t, "login", r)
		tok := str(r.Data, "login.token")
		exp, _ := time.Parse(time.RFC3339, str(r.Data, "login.expiresAt"))
		if d := exp.Sub(start); d < time.Hour-time.Second || d > time.Hour+time.Second {
			t.Fatalf("expiresAt is %s after sign-in, want the configured 1 h", d)
		}
		clock.Advance(4 * time.Minute)
		wantOK(t, "after 4 min", e.post(tok, contract, "Viewer", nil))
		clock.Advance(6 * time.Minute)
		wantCode(t, "idle 6 min (timeout 5 min)", e.post(tok, contract, "Viewer", nil), "UNAUTHENTICATED", "")

		tok = e.mustLogin(careTeam, demo.Password)
		for elapsed := 4 * time.Minute; elapsed <= 68*time.Minute; elapsed += 4 * time.Minute {
			clock.Advance(4 * time.Minute)
			res := e.post(tok, contract, "Viewer", nil)
			if elapsed < time.Hour {
				wantOK(t, fmt.Sprintf("after %s", elapsed), res)
			} else {
				wantCode(t, fmt.Sprintf("after %s (TTL 1 h)", elapsed), res, "UNAUTHENTICATED", "")
			}
		}
	})
}

// attempt is one sign-in answer, reduced to what a client can compare.
type attempt struct {
	code       string
	message    string
	retryAfter float64
}

func (a attempt) String() string {
	return fmt.Sprintf("%s(%g)", a.code, a.retryAfter)
}

func toAttempt(r result) attempt {
	if len(r.Errors) == 0 {
		return attempt{code: "OK"}
	}
	ra, _ := r.Errors[0].Extensions["retryAfterSeconds"].(float64)
	return attempt{code: r.code(), message: r.Errors[0].Message, retryAfter: ra}
}

func TestLoginLockout(t *testing.T) {
	clock := newTestClock()
	e := newEnvWith(t, func(c *app.Config) {
		c.Auth.Now = clock.Now
		c.Server.TrustProxy = true
	})

	// lockSequence fails repeatedly on one e-mail from one address, waiting
	// as told when slowed, until the account is locked; then checks the lock
	// holds (even for the right password) and ends after the lock window
	// with the right password. It returns every answer.
	lockSequence := func(t *testing.T, addr, email string) []attempt {
		t.Helper()
		var seq []attempt
		try := func(password string) attempt {
			a := toAttempt(e.loginFrom(addr, email, password))
			seq = append(seq, a)
			return a
		}
		for i := 1; i <= 3; i++ {
			if a := try("wrong password " + fmt.Sprint(i)); a.code != "UNAUTHENTICATED" {
				t.Fatalf("failure %d: %v", i, a)
			}
		}
		// Slowed: even the right password must wait.
		a := try(demo.Password)
		if a.code != "RATE_LIMITED" || a.retryAfter < 1 {
			t.Fatalf("4th attempt right after 3 failures: %v (%q)", a, a.message)
		}
		locked := false
		for i := 4; i <= 20 && !locked; i++ {
			clock.Advance(time.Duration(a.retryAfter)*time.Second + time.Second)
			if a = try("wrong password " + fmt.Sprint(i)); a.code != "UNAUTHENTICATED" {
				t.Fatalf("failure %d after waiting: %v", i, a)
			}
			if a = try("still wrong"); a.code != "RATE_LIMITED" {
				t.Fatalf("attempt right after failure %d: %v", i, a)
			}
			locked = a.retryAfter >= 10*60
		}
		if !locked {
			t.Fatalf("never locked: %v", seq)
		}
		clock.Advance(10 * time.Minute)
		if a := try(demo.Password); a.code != "RATE_LIMITED" {
			t.Fatalf("10 min into the lock, the right password: %v", a)
		}
		clock.Advance(time.Duration(a.retryAfter)*time.Second - 10*time.Minute + time.Second)
		try(demo.Password)
		return seq
	}

	var existing, unknown []attempt
	t.Run("existing account", func(t *testing.T) {
		existing = lockSequence(t, "203.0.113.1", prescriber)
		if last := existing[len(existing)-1]; last.code != "OK" {
			t.Fatalf("the right password after the lock window: %v", last)
		}
		// The lock was per account: another account from the same address
		// signs in.
		wantOK(t, "another account", e.loginFrom("203.0.113.1", careTeam, demo.Password))
	})
	t.Run("unknown e-mail behaves the same", func(t *testing.T) {
		unknown = lockSequence(t, "203.0.113.2", "nobody@diaconesses.demo")
		if len(existing) != len(unknown) {
			t.Fatalf("different sequences:\nexisting %v\nunknown  %v", existing, unknown)
		}
		for i := range unknown[:len(unknown)-1] {
			if existing[i] != unknown[i] {
				t.Fatalf("answer %d differs: existing %+v, unknown %+v", i, existing[i], unknown[i])
			}
		}
		if last := unknown[len(unknown)-1]; last.code != "UNAUTHENTICATED" || last.message != existing[0].message {
			t.Fatalf("after the window, an unknown e-mail: %+v", last)
		}
	})

	t.Run("locked account from another address", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			e.loginFrom("203.0.113.3", perineDoctor, "wrong")
		}
		r := e.loginFrom("203.0.113.4", perineDoctor, demo.Password)
		wantCode(t, "slowed account from a fresh address", r, "RATE_LIMITED", "")
	})

	t.Run("per client address", func(t *testing.T) {
		const addr = "198.51.100.7"
		// Many e-mails, each failing once: no account is slowed, the address is.
		for i := 0; i < 20; i++ {
			r := e.loginFrom(addr, fmt.Sprintf("spray%02d@example.org", i), "Printemps2026!")
			wantCode(t, fmt.Sprintf("spray %d", i), r, "UNAUTHENTICATED", "")
		}
		r := e.loginFrom(addr, garnierDoc, demo.Password)
		wantCode(t, "right password from a slowed address", r, "RATE_LIMITED", "")
		wait := toAttempt(r).retryAfter
		// Only that address.
		wantOK(t, "same account from another address", e.loginFrom("198.51.100.8", garnierDoc, demo.Password))
		clock.Advance(time.Duration(wait)*time.Second + time.Second)
		wantOK(t, "after the wait", e.loginFrom(addr, garnierDoc, demo.Password))
	})

	t.Run("per client address, locked", func(t *testing.T) {
		// Failing from one address, many e-mails, always waiting as told:
		// the address must end up locked (a wait of many minutes), not just
		// slowed for ever.
		const addr = "198.51.100.9"
		longest, failures := 0.0, 0
		slowed, lastFailed, forgotten := false, false, false
		start := clock.Now()
		for i := 0; i < 250 && longest < 10*60 && !forgotten; i++ {
			r := e.loginFrom(addr, fmt.Sprintf("spray-lock%03d@example.org", i), "Printemps2026!")
			a := toAttempt(r)
			switch a.code {
			case "UNAUTHENTICATED":
				failures++
				// Two failures in a row, without waiting, once slowed:
				// the address's failures were forgotten before any lock.
				forgotten = slowed && lastFailed
				lastFailed = true
			case "RATE_LIMITED":
				slowed, lastFailed = true, false
				longest = math.Max(longest, a.retryAfter)
				clock.Advance(time.Duration(a.retryAfter)*time.Second + time.Second)
			default:
				t.Fatalf("attempt %d: %+v", i, a)
			}
		}
		if longest < 10*60 {
			t.Fatalf("the per-address limiter never locked: after %d failures over %s (waiting as told, longest wait %g s) it forgot them (forgotten=%v)",
				failures, clock.Now().Sub(start).Round(time.Second), longest, forgotten)
		}
	})
}

func TestLoginDisabledAccount(t *testing.T) {
	e := newEnv(t)
	ref := e.badCredentials()
	tok := e.token(careTeam)
	wantOK(t, "viewer before", e.op(careTeam, "Viewer", nil))

	id := e.userID(careTeam)
	r := e.post(e.token(referent), mDisableUser, "DisableUser", map[string]any{"id": id})
	wantOK(t, "disableUser by the referent", r)
	if get(r.Data, "disableUser.disabled") != true {
		t.Fatalf("disableUser: %v", r.Data)
	}

	wantCode(t, "the disabled account's token, next request", e.post(tok, contract, "Viewer", nil), "UNAUTHENTICATED", "")
	wantCode(t, "…and on a mutation", e.post(tok, contract, "Logout", nil), "UNAUTHENTICATED", "")
	sameRefusal(t, "login of a disabled account, right password", e.login(careTeam, demo.Password), ref)
	sameRefusal(t, "login of a disabled account, wrong password", e.login(careTeam, "wrong"), ref)

	// Disabled through the service too (regional support, another account).
	sctx := viewer.NewContext(context.Background(), mustViewer(t, e, support))
	gtok := e.token(adminSocial)
	u, err := e.app.DB.Client.User.Query().Where(user.Email(adminSocial)).Only(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Directory.DisableUser(sctx, u.ID); err != nil {
		t.Fatalf("directory DisableUser: %v", err)
	}
	wantCode(t, "token after DisableUser", e.post(gtok, contract, "UspUnits", nil), "UNAUTHENTICATED", "")
	sameRefusal(t, "login after DisableUser", e.login(adminSocial, demo.Password), ref)
}

// mustViewer returns the viewer of a demo account's session.
func mustViewer(t *testing.T, e *env, who string) *viewer.Viewer {
	t.Helper()
	v, err := e.app.Auth.Authenticate(context.Background(), e.token(who))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPasswordExpiredAndChangePassword(t *testing.T) {
	e := newEnv(t)
	ctx := viewer.System(context.Background())
	u, err := e.app.DB.Client.User.Query().Where(user.Email(careTeam)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.app.DB.Client.User.UpdateOneID(u.ID).SetPasswordChangedAt(time.Now().UTC().AddDate(0, -7, 0)).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	dia := e.structureID(prescriber)
	reqID := e.draftRequest(prescriber)

	tok := e.mustLogin(careTeam, demo.Password)
	other := e.mustLogin(careTeam, demo.Password)
	v := e.post(tok, qViewerFull, "ViewerFull", nil)
	wantOK(t, "viewer with an expired password", v)
	if get(v.Data, "viewer.passwordExpired") != true {
		t.Fatalf("passwordExpired: %v", v.Data)
	}
	wantOK(t, "contract Viewer with an expired password", e.post(tok, contract, "Viewer", nil))

	wantCode(t, "UspUnits", e.post(tok, contract, "UspUnits", nil), "PASSWORD_EXPIRED", "")
	wantCode(t, "Request", e.post(tok, contract, "Request", map[string]any{"id": reqID}), "PASSWORD_EXPIRED", "")
	wantCode(t, "CreateRequest", e.post(tok, contract, "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": dia, "urgency": "PLANNED",
		"patient": map[string]any{"birthName": "Petit", "firstName": "Paul", "birthDate": "1950-01-01", "sex": "MALE"},
	}}), "PASSWORD_EXPIRED", "")
	wantCode(t, "SaveMedical", e.post(tok, contract, "SaveMedical", map[string]any{"requestId": reqID, "input": map[string]any{"diagnosis": "x"}}), "PASSWORD_EXPIRED", "")

	change := func(current, next string) result {
		return e.post(tok, mChangePassword, "ChangePassword", map[string]any{"current": current, "next": next})
	}
	wantCode(t, "too short", change(demo.Password, "Court-1"), "BAD_USER_INPUT", "newPassword")
	wantCode(t, "the e-mail", change(demo.Password, careTeam), "BAD_USER_INPUT", "newPassword")
	wantCode(t, "a common password", change(demo.Password, "motdepasse123"), "BAD_USER_INPUT", "newPassword")
	wantCode(t, "wrong current password", change("pas le bon mot de passe", "Une phrase de passe solide 42"), "BAD_USER_INPUT", "currentPassword")

	// Logout is still allowed.
	o := e.post(other, contract, "Logout", nil)
	wantOK(t, "logout with an expired password", o)

	third := e.mustLogin(careTeam, demo.Password)
	const next = "Une phrase de passe solide 42"
	r := change(demo.Password, next)
	wantOK(t, "changePassword", r)
	if get(r.Data, "changePassword") != true {
		t.Fatalf("changePassword: %v", r.Data)
	}
	wantOK(t, "UspUnits after the change", e.post(tok, contract, "UspUnits", nil))
	if r := e.post(tok, qRequestSeen, "RequestSeen", map[string]any{"id": reqID}); len(r.Errors) > 0 || str(r.Data, "node.id") != reqID {
		t.Fatalf("Request after the change: %v %+v", r.Data, r.Errors)
	}
	v = e.post(tok, qViewerFull, "ViewerFull", nil)
	if get(v.Data, "viewer.passwordExpired") != false {
		t.Fatalf("passwordExpired after the change: %v %+v", v.Data, v.Errors)
	}
	wantCode(t, "another session after the change", e.post(third, contract, "Viewer", nil), "UNAUTHENTICATED", "")
	wantCode(t, "old password", e.login(careTeam, demo.Password), "UNAUTHENTICATED", "")
	wantOK(t, "new password", e.login(careTeam, next))
}

func TestRevokedHabilitation(t *testing.T) {
	e := newEnv(t)
	dia := e.structureID(prescriber)
	reqID := e.draftRequest(prescriber)
	seeRequest(t, e, careTeam, reqID)
	v := e.post(e.token(careTeam), qViewerFull, "ViewerFull", nil)
	wantOK(t, "viewer", v)
	habID := str(v.Data, "viewer.habilitations.0.id")

	r := e.post(e.token(referent), mRevokeHabilitation, "RevokeHabilitation", map[string]any{"id": habID})
	wantOK(t, "revoke", r)
	if str(r.Data, "revokeHabilitation.revokedAt") == "" {
		t.Fatalf("revoke: %v", r.Data)
	}
	noHabilitationLeft(t, e, e.token(careTeam), dia, reqID)
}

func TestExpiredHabilitation(t *testing.T) {
	e := newEnv(t)
	dia := e.structureID(prescriber)
	reqID := e.draftRequest(prescriber)
	seeRequest(t, e, careTeam, reqID)
	ctx := viewer.System(context.Background())
	n, err := e.app.DB.Client.Habilitation.Update().
		Where(habilitation.HasUserWith(user.Email(careTeam))).
		SetValidUntil(time.Now().UTC().Add(-time.Minute)).Save(ctx)
	if err != nil || n != 1 {
		t.Fatalf("expiring the habilitation: %d, %v", n, err)
	}
	noHabilitationLeft(t, e, e.token(careTeam), dia, reqID)
}

// seeRequest checks who sees the request (through node, without sections).
func seeRequest(t *testing.T, e *env, who, reqID string) {
	t.Helper()
	r := e.post(e.token(who), qRequestSeen, "RequestSeen", map[string]any{"id": reqID})
	if len(r.Errors) > 0 || str(r.Data, "node.id") != reqID {
		t.Fatalf("%s does not see its structure's request: %v %+v", who, r.Data, r.Errors)
	}
}

// TestHabilitationSectionReadsThroughNode: the contract's Request, as
// profiles whose habilitation lets them read the sections of their
// structure's request.
func TestHabilitationSectionReadsThroughNode(t *testing.T) {
	e := newEnv(t)
	reqID := e.draftRequest(prescriber)
	for _, who := range []string{prescriber, careTeam} {
		t.Run(who, func(t *testing.T) {
			r := e.op(who, "Request", map[string]any{"id": reqID})
			if len(r.Errors) > 0 {
				// Regression guard: the @section rule once read
				// OriginStructureID from a row whose columns entgql field
				// collection had narrowed to the selection, so every
				// section was FORBIDDEN unless originStructure was queried.
				withOrigin := e.post(e.token(who), `query Q($id: ID!) { node(id: $id) { ... on AdmissionRequest { originStructure { id } medical { state } } } }`,
					"Q", map[string]any{"id": reqID})
				t.Fatalf("the contract's Request answers errors on the sections for %s on its own structure's request (%+v); "+
					"with originStructure selected too: %v %+v", who, r.Errors, withOrigin.Data, withOrigin.Errors)
			}
			if str(r.Data, "node.medical.state") != "EMPTY" || str(r.Data, "node.careProject.state") != "EMPTY" {
				t.Fatalf("sections: %v", r.Data)
			}
		})
	}
}

// noHabilitationLeft checks what a signed-in user without a valid
// habilitation may still do: Viewer, changePassword, logout, and nothing
// else; the very next request already counts.
func noHabilitationLeft(t *testing.T, e *env, tok, structureID, reqID string) {
	t.Helper()
	wantCode(t, "CreateRequest, next request", e.post(tok, contract, "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": structureID, "urgency": "PLANNED",
		"patient": map[string]any{"birthName": "Petit", "firstName": "Paul", "birthDate": "1950-01-01", "sex": "MALE"},
	}}), "FORBIDDEN", "")
	v := e.post(tok, qViewerFull, "ViewerFull", nil)
	wantOK(t, "viewer", v)
	if habs, _ := get(v.Data, "viewer.habilitations").([]any); len(habs) != 0 {
		t.Fatalf("viewer still shows habilitations %v", habs)
	}
	// Refused whatever the id: FORBIDDEN says nothing about the request.
	wantCode(t, "a request seen before", e.post(tok, contract, "Request", map[string]any{"id": reqID}), "FORBIDDEN", "")
	wantCode(t, "SaveMedical on it", e.post(tok, contract, "SaveMedical", map[string]any{"requestId": reqID, "input": map[string]any{"diagnosis": "x"}}), "FORBIDDEN", "")

	// Still signs in; Viewer and logout work.
	fresh := e.mustLogin(careTeam, demo.Password)
	v = e.post(fresh, qViewerFull, "ViewerFull", nil)
	wantOK(t, "viewer of a fresh session", v)
	if habs, _ := get(v.Data, "viewer.habilitations").([]any); len(habs) != 0 {
		t.Fatalf("fresh session shows habilitations %v", habs)
	}
	wantCode(t, "a request seen before, fresh session", e.post(fresh, contract, "Request", map[string]any{"id": reqID}), "FORBIDDEN", "")
	wantCode(t, "UspUnits", e.post(fresh, contract, "UspUnits", nil), "FORBIDDEN", "")

	wantCode(t, "changePassword (wrong current) is still reachable", e.post(fresh, mChangePassword, "ChangePassword",
		map[string]any{"current": "wrong", "next": "Une phrase de passe solide 42"}), "BAD_USER_INPUT", "currentPassword")
	l := e.post(fresh, contract, "Logout", nil)
	wantOK(t, "logout", l)
}

func TestPasswordSetupTokenFlow(t *testing.T) {
	e := newEnv(t)
	ref := e.badCredentials()
	dia := e.structureID(referent)
	const email = "camille.leroy@diaconesses.fr"
	r := e.post(e.token(referent), mCreateUser, "CreateUser", map[string]any{"input": map[string]any{
		"email": email, "firstName": "Camille", "lastName": "Leroy", "profession": "Infirmière",
		"habilitation": map[string]any{
			"structureId": dia, "profile": "CARE_TEAM",
			"validUntil": time.Now().UTC().AddDate(0, 3, 0).Format(time.RFC3339),
		},
	}})
	wantOK(t, "createUser", r)
	setup := str(r.Data, "createUser.setupToken")
	if setup == "" {
		t.Fatalf("no set-up token: %v", r.Data)
	}
	if exp, err := time.Parse(time.RFC3339, str(r.Data, "createUser.setupTokenExpiresAt")); err != nil || !exp.After(time.Now()) {
		t.Fatalf("setupTokenExpiresAt %q: %v", str(r.Data, "createUser.setupTokenExpiresAt"), err)
	}
	// No password yet: signing in looks like wrong credentials.
	sameRefusal(t, "login before set-up", e.login(email, "Une phrase de passe solide 42"), ref)
	sameRefusal(t, "login before set-up, empty password", e.login(email, ""), ref)

	do := func(password string) result {
		return e.post("", mSetupPassword, "SetupPassword", map[string]any{"token": setup, "password": password})
	}
	wantCode(t, "set-up with a common password", do("motdepasse123"), "BAD_USER_INPUT", "newPassword")
	wantCode(t, "set-up with the e-mail", do(email), "BAD_USER_INPUT", "newPassword")

	const pw = "Trois chats gris dorment 7"
	s := do(pw)
	wantOK(t, "set-up (after rejected attempts, the token still works)", s)
	tok := str(s.Data, "setupPassword.token")
	if tok == "" || str(s.Data, "setupPassword.viewer.email") != email {
		t.Fatalf("setupPassword: %v", s.Data)
	}
	v := e.post(tok, qViewerFull, "ViewerFull", nil)
	wantOK(t, "viewer of the new account", v)
	if get(v.Data, "viewer.passwordExpired") != false || str(v.Data, "viewer.habilitations.0.profile") != "CARE_TEAM" {
		t.Fatalf("new account's viewer: %v", v.Data)
	}
	wantOK(t, "the new account works", e.post(tok, contract, "UspUnits", nil))

	wantCode(t, "the same set-up token again", do("Quatre chats gris dorment 8"), "UNAUTHENTICATED", "")
	wantCode(t, "a made-up set-up token", e.post("", mSetupPassword, "SetupPassword",
		map[string]any{"token": "x" + setup[1:], "password": "Quatre chats gris dorment 8"}), "UNAUTHENTICATED", "")
	wantOK(t, "login with the password set", e.login(email, pw))
	sameRefusal(t, "login with the password the second use tried", e.login(email, "Quatre chats gris dorment 8"), ref)
}

func TestLoginDemoAccountOutsideDemoMode(t *testing.T) {
	dsn := store.SQLiteDSN(filepath.Join(t.TempDir(), "passerelle.db"))

	// First run in demo mode: the data set is loaded and a session opened.
	first, err := app.New(context.Background(), app.Config{Store: store.Config{DatabaseURL: dsn}, Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(first.Handler)
	e1 := &env{t: t, app: first, srv: srv, tokens: map[string]string{}}
	tok := e1.mustLogin(prescriber, demo.Password)
	wantOK(t, "demo account in demo mode", e1.post(tok, contract, "UspUnits", nil))
	srv.Close()
	first.Close()

	// Same database, not in demo mode.
	e := startEnv(t, app.Config{Store: store.Config{DatabaseURL: dsn}, Migrate: true})
	units, err := e.app.DB.Client.Unit.Query().Count(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	if units == 0 {
		t.Fatal("the demo data did not survive the restart")
	}
	unknown := e.login("personne@diaconesses.demo", demo.Password)
	wantCode(t, "unknown e-mail", unknown, "UNAUTHENTICATED", "")
	sameRefusal(t, "demo account outside demo mode", e.login(prescriber, demo.Password), unknown.Errors[0])
	sameRefusal(t, "another demo account outside demo mode", e.login(observer, demo.Password), unknown.Errors[0])
	wantCode(t, "a demo session outside demo mode", e.post(tok, contract, "Viewer", nil), "UNAUTHENTICATED", "")
}
