package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"passerelle/app"
	"passerelle/datagen"
	"passerelle/enums"
	"passerelle/graph"
	"passerelle/viewer"
)

// The direct reads (graph.DirectReads) must answer byte for byte what the
// resolvers answer. Two servers share one database, one with the direct
// reads and one without (app.Config.ResolversOnly); every demo account asks
// both for every USP unit's inbox and for its requests' dashboard, with the
// contract's and the load harness's selections and with every field package
// direct claims to read, page after page, and with selections and arguments
// it must leave to the resolvers. The medical readings it logs must be the
// resolvers' too.
func TestDirectReadsAnswerAsTheResolvers(t *testing.T) {
	var url string
	var joined atomic.Int64 // statements of the direct path
	e := serveWith(t, t, func(_ context.Context, stmt string) {
		if strings.Contains(stmt, "AS `t0`") || strings.Contains(stmt, `AS "t0"`) {
			joined.Add(1)
		}
	}, func(c *app.Config) { url = c.Store.DatabaseURL })
	ref := serveWith(t, t, nil, func(c *app.Config) { c.Store.DatabaseURL = url; c.ResolversOnly = true })
	ctx := context.Background()
	if err := datagen.Generate(ctx, e.app.DB.Client,
		datagen.Config{Preset: "idf", Requests: 400, Seed: 11, BatchSize: 200}, nil); err != nil {
		t.Fatal(err)
	}
	// One account with several hats: Forcilles' physician also prescribes
	// for Hôpital des Diaconesses and is receiving staff (no medical
	// section) at Jeanne Garnier, so that its pages mix requests it reads
	// as either side, some of whose sections it may not read.
	e.grant(forcillesDoc, enums.ProfilePrescriberPhysician, prescriber, "")
	e.grant(forcillesDoc, enums.ProfileReceiverStaff, "", "Maison médicale Jeanne Garnier")

	inbox := map[string]string{
		"contract": `query Inbox($unitId: ID!, $first: Int, $after: Cursor) {
  inbox(unitId: $unitId, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id status sentAt request { id reference urgency patient { birthName firstName birthDate } } } }
  }
}`,
		"everything": `query Inbox($unitId: ID!, $first: Int, $after: Cursor, $yes: Boolean!) {
  box: inbox(unitId: $unitId, first: $first, after: $after) {
    __typename
    pageInfo { __typename endCursor startCursor hasPreviousPage hasNextPage }
    n: totalCount
    edges { __typename node { ...Full } c: cursor }
    edges { node { request @include(if: $yes) { id } status @skip(if: $yes) } }
  }
}
fragment Full on Dispatch ` + everythingSelection(t, e.app.DB.Dialect, "Dispatch") + `
`,
	}
	// The harness's dashboard, paged.
	paged := strings.NewReplacer("($first: Int)", "($first: Int, $after: Cursor)",
		"(first: $first) {", "(first: $first, after: $after) {\n    pageInfo { hasNextPage endCursor }").Replace(dashboard)
	if !strings.Contains(paged, "after: $after") || !strings.Contains(paged, "pageInfo") {
		t.Fatalf("the dashboard document changed: %s", dashboard)
	}
	dashboards := map[string]string{
		"harness": paged,
		"everything": `query Dashboard($first: Int, $after: Cursor, $yes: Boolean!) {
  page: admissionRequests(first: $first, after: $after) {
    __typename
    pageInfo { __typename endCursor startCursor hasPreviousPage hasNextPage }
    total: totalCount
    edges { __typename cursor node { ...Full } }
    edges { node { d: dispatches @include(if: $yes) { id } status @skip(if: $yes) } }
  }
}
fragment Full on AdmissionRequest ` + everythingSelection(t, e.app.DB.Dialect, "AdmissionRequest") + `
`,
		"sections only": `query Dashboard($first: Int, $after: Cursor) {
  admissionRequests(first: $first, after: $after) { edges { node { adminSocial { state city } } } pageInfo { hasNextPage endCursor } }
}`,
	}
	// Selections and arguments the direct path leaves to the resolvers (and
	// two it serves): they must answer the same too.
	declined := map[string]string{
		"resolver": `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 5) { edges { node { id messages { id } } } } }`,
		"nested":   `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 5) { edges { node { id request { dispatches { id } } } } } }`,
		"last":     `query Inbox($unitId: ID!) { inbox(unitId: $unitId, last: 3) { pageInfo { hasPreviousPage startCursor } edges { node { id } } } }`,
		"where":    `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 5, where: {status: PENDING}) { totalCount edges { node { id status } } } }`,
		"count":    `query Inbox($unitId: ID!) { inbox(unitId: $unitId) { totalCount } }`,
		"zero":     `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 0) { totalCount pageInfo { hasNextPage } edges { cursor } } }`,
		"toobig":   `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 5000) { totalCount } }`,
		"edges2":   `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 2) { a: edges { node { id } } b: edges { cursor } } }`,
		"orderBy":  `query Q($unitId: ID!) { admissionRequests(first: 4, orderBy: [{field: CREATED_AT, direction: ASC}]) { edges { node { id reference } } } u: uspUnits { id } x: inbox(unitId: $unitId, first: 1) { totalCount } }`,
		"events":   `query Q { admissionRequests(first: 3) { edges { node { id events { type } } } } }`,
		// Served directly too, compared here for their arguments: the
		// default page size, a literal first.
		"nofirst": `query Inbox($unitId: ID!) { inbox(unitId: $unitId) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }`,
		"literal": `query Q { admissionRequests(first: 2) { totalCount pageInfo { hasNextPage } edges { cursor node { id } } } }`,
	}

	units := e.must(prescriber, "UspUnits", nil)
	var unitIDs []string
	for _, u := range get(units, "uspUnits").([]any) {
		unitIDs = append(unitIDs, str(u, "id"))
	}
	unitIDs = append(unitIDs, "00000000-0000-4000-8000-000000000000", "not-a-uuid")
	accounts := []string{prescriber, careTeam, adminSocial, referent, pompidou, coordinator, nonMedical, liberal,
		perineDoctor, perineStaff, garnierDoc, forcillesDoc, support, observer}

	compared, pages := 0, 0
	// compare asks both servers for up to three pages.
	compare := func(who, name, q string, vars map[string]any) {
		tok := e.token(who)
		var after any
		for page := 0; page < 3; page++ {
			vars["first"], vars["after"], vars["yes"] = 17, after, page%2 == 0
			got, want := postRaw(t, e, tok, q, vars), postRaw(t, ref, tok, q, vars)
			compared++
			if !sameAnswer(got, want) {
				t.Fatalf("%s, %s, %v, page %d:\ndirect:    %s\nresolvers: %s", who, name, vars, page, got, want)
			}
			var r result
			if err := json.Unmarshal(got, &r); err != nil {
				t.Fatal(err)
			}
			var conn any
			for _, v := range r.Data {
				conn = v
			}
			if get(conn, "pageInfo.hasNextPage") != true {
				return
			}
			pages++
			after = get(conn, "pageInfo.endCursor")
		}
	}
	for _, who := range accounts {
		for _, unit := range unitIDs {
			for name, q := range inbox {
				compare(who, name, q, map[string]any{"unitId": unit})
			}
			for name, q := range declined {
				vars := map[string]any{"unitId": unit}
				if got, want := postRaw(t, e, e.token(who), q, vars), postRaw(t, ref, e.token(who), q, vars); !sameAnswer(got, want) {
					t.Fatalf("%s, %s, unit %s:\ndirect:    %s\nresolvers: %s", who, name, unit, got, want)
				}
			}
		}
		for name, q := range dashboards {
			compare(who, name, q, map[string]any{})
		}
	}
	// The comparison is only worth something if the direct path served:
	// receivers' inboxes and dashboards, over several pages.
	if joined.Load() < 50 || pages < 40 {
		t.Fatalf("the direct path served %d statements, %d next pages followed: the test compared little", joined.Load(), pages)
	}
	t.Logf("%d answers compared, %d direct statements, %d next pages", compared, joined.Load(), pages)

	// Which path answered: the direct one where every section selected may
	// be read, the resolvers (with FORBIDDEN at the sections' paths) where
	// one may not.
	for _, c := range []struct {
		who, query string
		vars       map[string]any
		direct     bool
	}{
		{prescriber, dashboard, map[string]any{"first": 5}, true},
		{coordinator, dashboard, map[string]any{"first": 5}, true},
		{adminSocial, dashboard, map[string]any{"first": 5}, false},
		{adminSocial, dashboards["sections only"], map[string]any{"first": 5}, true},
		{perineDoctor, inbox["contract"], map[string]any{"first": 5, "unitId": e.unitID("USP Sainte-Périne")}, true},
		{garnierDoc, inbox["contract"], map[string]any{"first": 5, "unitId": e.unitID("USP Sainte-Périne")}, false},
	} {
		before := joined.Load()
		postRaw(t, e, e.token(c.who), c.query, c.vars)
		if served := joined.Load() > before; served != c.direct {
			t.Errorf("%s: served directly %v, want %v", c.who, served, c.direct)
		}
	}

	// The medical readings are logged alike: one per request read.
	logged := func() int {
		n, err := e.app.DB.Client.AccessLog.Query().Count(viewer.System(ctx))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The section read twice under two aliases is two readings, as the
	// directive runs once per field.
	twice := `query Q($first: Int) { admissionRequests(first: $first) { edges { node { a: medical { state } b: medical { diagnosis } } } } }`
	for _, who := range []string{prescriber, coordinator, perineDoctor} {
		for _, doc := range []string{dashboard, twice} {
			vars := map[string]any{"first": 20}
			before := logged()
			postRaw(t, e, e.token(who), doc, vars)
			direct := logged() - before
			postRaw(t, ref, e.token(who), doc, vars)
			if resolvers := logged() - before - direct; direct != resolvers || direct == 0 {
				t.Fatalf("%s: the direct path logged %d medical readings, the resolvers %d", who, direct, resolvers)
			}
		}
	}
}

// everythingSelection selects every field package direct reads on a type,
// and through its edges (lists on the root only), with __typename.
func everythingSelection(t *testing.T, dialect, root string) string {
	t.Helper()
	ds, err := graph.NewDirect(graph.NewSchema(&graph.Resolver{}).Schema(), dialect)
	if err != nil {
		t.Fatal(err)
	}
	var sel func(typ string, depth int) string
	sel = func(typ string, depth int) string {
		scalars, edges := ds.Fields(typ)
		if len(scalars) < 3 {
			t.Fatalf("direct reads %d fields of %s: %v", len(scalars), typ, scalars)
		}
		parts := append([]string{"__typename"}, scalars...)
		if depth < 3 {
			names := make([]string, 0, len(edges))
			for name := range edges {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				if edges[name].Many && depth > 0 {
					continue
				}
				parts = append(parts, name+" "+sel(edges[name].Target, depth+1))
			}
		}
		return "{ " + strings.Join(parts, " ") + " }"
	}
	return sel(root, 0)
}

// sameAnswer: the same bytes, or the same data and the same errors in
// another order (gqlgen resolves list elements concurrently, so the errors
// of a list come in the order its elements finished).
func sameAnswer(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	type answer struct {
		Data   json.RawMessage   `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	var x, y answer
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil || !bytes.Equal(x.Data, y.Data) || len(x.Errors) != len(y.Errors) {
		return false
	}
	sort := func(es []json.RawMessage) {
		slices.SortFunc(es, func(p, q json.RawMessage) int { return bytes.Compare(p, q) })
	}
	sort(x.Errors)
	sort(y.Errors)
	for i := range x.Errors {
		if !bytes.Equal(x.Errors[i], y.Errors[i]) {
			return false
		}
	}
	return true
}

// postRaw posts a query and returns the response body as sent.
func postRaw(t *testing.T, e *env, token, query string, vars map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, out)
	}
	return out
}

// A direct read that fails answers like a failing resolver: the field null,
// INTERNAL at its path, no detail of the database, nothing partial.
func TestDirectReadFailureIsInternal(t *testing.T) {
	e := newEnv(t)
	perine := e.unitID("USP Sainte-Périne")
	e.sentRequest(perine)
	if r := e.op(perineDoctor, "Inbox", map[string]any{"unitId": perine, "first": 10}); len(r.Errors) > 0 || str(r.Data, "inbox.edges.0.node.request.patient.birthName") == "" {
		t.Fatalf("inbox before the failure: %+v", r)
	}
	// The page statement joins the patients; the count does not.
	if _, err := e.app.DB.SQL.Exec(`ALTER TABLE patients RENAME TO patients_away`); err != nil {
		t.Fatal(err)
	}
	r := e.op(perineDoctor, "Inbox", map[string]any{"unitId": perine, "first": 10})
	if r.Data["inbox"] != nil || len(r.Errors) != 1 || r.code() != "INTERNAL" {
		t.Fatalf("want inbox null and one INTERNAL error, got %+v", r)
	}
	if p := r.Errors[0].Path; len(p) != 1 || p[0] != "inbox" {
		t.Errorf("error path %v, want [inbox]", p)
	}
	if m := r.Errors[0].Message; strings.Contains(m, "patients") || strings.Contains(strings.ToLower(m), "sql") {
		t.Errorf("the message shows the database: %q", m)
	}
}

// TestDashboardUnloggedIsNotServed: a page whose medical readings cannot be
// committed to the access log is not answered, through the direct reads
// (which start the write while they render the page) as through the
// resolvers: no diagnosis goes out, and the error hides its cause.
func TestDashboardUnloggedIsNotServed(t *testing.T) {
	var url string
	e := serveWith(t, t, nil, func(c *app.Config) { url = c.Store.DatabaseURL })
	ref := serveWith(t, t, nil, func(c *app.Config) { c.Store.DatabaseURL = url; c.ResolversOnly = true })
	s := newLiveStory(e)
	s.run(0, 2) // a request whose medical section holds a diagnosis
	vars := map[string]any{"first": 10}
	for name, srv := range map[string]*env{"direct": e, "resolvers": ref} {
		if r := srv.post(e.token(prescriber), dashboard, "Dashboard", vars); len(r.Errors) > 0 ||
			!strings.Contains(fmt.Sprint(r.Data), "Cancer bronchique") {
			t.Fatalf("%s, before: %+v %v", name, r.Errors, r.Data)
		}
	}
	if _, err := e.app.DB.SQL.Exec("DROP TABLE access_logs"); err != nil {
		t.Fatal(err)
	}
	for name, srv := range map[string]*env{"direct": e, "resolvers": ref} {
		r := srv.post(e.token(prescriber), dashboard, "Dashboard", vars)
		if strings.Contains(fmt.Sprint(r.Data), "Cancer") {
			t.Errorf("%s: a medical section went out unlogged: %v", name, r.Data)
		}
		if r.code() != "INTERNAL" || strings.Contains(r.Errors[0].Message, "access_logs") {
			t.Errorf("%s: want an INTERNAL error that hides its cause: %+v %v", name, r.Errors, r.Data)
		}
	}
}
