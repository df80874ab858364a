package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/app"
	"passerelle/demo"
	"passerelle/enums"
	"passerelle/graph"
	"passerelle/server"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
	"passerelle/workflow"
)

// contract is the client contract, kept in the repo and run unchanged.
var contract = func() string {
	b, err := os.ReadFile("testdata/operations.graphql")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// env is a running server on a fresh database with the demo data set.
type env struct {
	t      *testing.T
	app    *app.App
	srv    *httptest.Server
	tokens map[string]string
}

// newEnv starts a server on a fresh database (SQLite in memory, or
// PostgreSQL when PASSERELLE_TEST_POSTGRES is set: see storetest).
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvTraced(t, nil)
}

// newEnvTraced is newEnv with every SQL statement passed to trace.
func newEnvTraced(t *testing.T, trace func(context.Context, string)) *env {
	t.Helper()
	return serve(t, t, trace)
}

// serve starts the server with its clean-up bound to owner (a test, or a
// fuzz target whose function runs many times on one server).
func serve(owner testing.TB, t *testing.T, trace func(context.Context, string)) *env {
	owner.Helper()
	return serveWith(owner, t, trace, nil)
}

// serveWith is serve with a change to the configuration (nil: none).
func serveWith(owner testing.TB, t *testing.T, trace func(context.Context, string), change func(*app.Config)) *env {
	owner.Helper()
	cfg := app.Config{
		Store:  store.Config{DatabaseURL: storetest.DatabaseURL(owner), Trace: trace},
		Server: server.Config{EnableIntrospection: true},
		// Stories replay many changes as one account: the per-user mutation
		// rate has its own test (graph/ratelimit_test.go).
		Limits: graph.Limits{MutationsPerMinute: 1 << 20, MutationBurst: 1 << 20},
		Demo:   true,
		Logger: testLogger(),
		// Every mutation's answer is checked against its row read again.
		Workflow: workflow.Config{CheckResults: true},
	}
	if change != nil {
		change(&cfg)
	}
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		owner.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	owner.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &env{t: t, app: a, srv: srv, tokens: map[string]string{}}
}

// gqlError is one error of a response.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// result is a decoded response.
type result struct {
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors"`
}

func (r result) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends a GraphQL request with an optional bearer token.
func (e *env) post(token, query, opName string, vars map[string]any) result {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": opName, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		e.t.Fatalf("%s: decoding response (HTTP %d): %v", opName, resp.StatusCode, err)
	}
	return r
}

// op runs one contract operation as a demo account (signing in once).
func (e *env) op(who, opName string, vars map[string]any) result {
	e.t.Helper()
	return e.post(e.token(who), contract, opName, vars)
}

// must runs a contract operation and fails on any error.
func (e *env) must(who, opName string, vars map[string]any) map[string]any {
	e.t.Helper()
	r := e.op(who, opName, vars)
	if len(r.Errors) > 0 {
		e.t.Fatalf("%s as %s: %+v", opName, who, r.Errors)
	}
	return r.Data
}

// token signs a demo account in (cached).
func (e *env) token(who string) string {
	e.t.Helper()
	if who == "" {
		return ""
	}
	if tok, ok := e.tokens[who]; ok {
		return tok
	}
	r := e.post("", contract, "Login", map[string]any{"email": who, "password": demo.Password})
	if len(r.Errors) > 0 {
		e.t.Fatalf("login %s: %+v", who, r.Errors)
	}
	tok := get(r.Data, "login.token").(string)
	e.tokens[who] = tok
	return tok
}

// get walks a decoded JSON value with a dotted path (numbers index lists).
func get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any, path string) string {
	s, _ := get(v, path).(string)
	return s
}

// Demo accounts.
const (
	prescriber   = "prescripteur@diaconesses.demo"
	careTeam     = "soignant@diaconesses.demo"
	adminSocial  = "gestionnaire@diaconesses.demo"
	referent     = "referent@diaconesses.demo"
	pompidou     = "prescripteur@pompidou.demo"
	coordinator  = "coordo@dac75.demo"
	nonMedical   = "gestionnaire@dac75.demo"
	liberal      = "dr.martin@liberal.demo"
	perineDoctor = "medecin@sainte-perine.demo"
	perineStaff  = "secretariat@sainte-perine.demo"
	garnierDoc   = "medecin@jeanne-garnier.demo"
	forcillesDoc = "medecin@forcilles.demo"
	support      = "support@region.demo"
	observer     = "observatoire@ars.demo"
)

// ids of demo structures and units, looked up through the API.
func (e *env) structureID(who string) string {
	e.t.Helper()
	d := e.must(who, "Viewer", nil)
	return str(d, "viewer.habilitations.0.structure.id")
}

func (e *env) unitID(name string) string {
	e.t.Helper()
	d := e.must(prescriber, "UspUnits", nil)
	for _, u := range get(d, "uspUnits").([]any) {
		if str(u, "name") == name {
			return str(u, "id")
		}
	}
	e.t.Fatalf("no USP unit %q", name)
	return ""
}

// testLogger discards logs unless PASSERELLE_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("PASSERELLE_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return nil
}

// grant gives a demo account one more habilitation, valid for a month: a
// profile on a structure, or on one unit of it (unitName not empty).
func (e *env) grant(who string, profile enums.Profile, structureOf, unitName string) {
	e.t.Helper()
	ctx := viewer.System(context.Background())
	q := e.app.DB.Client.Habilitation.Create().SetUserID(uuid.MustParse(e.userID(who))).SetProfile(profile)
	if unitName != "" {
		u, err := e.app.DB.Client.Unit.Get(ctx, uuid.MustParse(e.unitID(unitName)))
		if err != nil {
			e.t.Fatal(err)
		}
		q.SetStructureID(u.StructureID).SetUnitID(u.ID)
	} else {
		q.SetStructureID(uuid.MustParse(e.structureID(structureOf)))
	}
	now := time.Now().UTC()
	if err := q.SetValidFrom(now.Add(-time.Hour)).SetValidUntil(now.AddDate(0, 1, 0)).Exec(ctx); err != nil {
		e.t.Fatal(err)
	}
}
