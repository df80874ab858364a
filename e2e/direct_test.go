package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"passerelle/app"
	"passerelle/datagen"
	"passerelle/graph"
)

// The direct reads (graph.DirectReads) must answer byte for byte what the
// resolvers answer. Two servers share one database, one with the direct
// reads and one without (app.Config.ResolversOnly); every demo account asks
// both for every USP unit's inbox, with the contract's selection and with
// every field package direct claims to read, page after page, and with
// selections and arguments it must leave to the resolvers.
func TestDirectReadsAnswerAsTheResolvers(t *testing.T) {
	var url string
	var joined atomic.Int64 // statements of the direct path
	e := serveWith(t, t, func(_ context.Context, stmt string) {
		if strings.Contains(stmt, "LEFT JOIN") && strings.Contains(stmt, "`t0`") || strings.Contains(stmt, `LEFT JOIN "admission_requests" AS "t1"`) {
			joined.Add(1)
		}
	}, func(c *app.Config) { url = c.Store.DatabaseURL })
	ref := serveWith(t, t, nil, func(c *app.Config) { c.Store.DatabaseURL = url; c.ResolversOnly = true })
	if err := datagen.Generate(context.Background(), e.app.DB.Client,
		datagen.Config{Preset: "idf", Requests: 400, Seed: 11, BatchSize: 200}, nil); err != nil {
		t.Fatal(err)
	}

	full := everythingSelection(t, e.app.DB.Dialect)
	queries := map[string]string{
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
fragment Full on Dispatch ` + full + `
`,
	}
	// Selections and arguments the direct path leaves to the resolvers:
	// they must answer the same too (they are the resolvers' answers).
	declined := map[string]string{
		"section":  `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 5) { edges { node { id request { medical { diagnosis } } } } } }`,
		"resolver": `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 5) { edges { node { id late overdue } } } }`,
		"last":     `query Inbox($unitId: ID!) { inbox(unitId: $unitId, last: 3) { pageInfo { hasPreviousPage startCursor } edges { node { id } } } }`,
		"where":    `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 5, where: {status: PENDING}) { totalCount edges { node { id status } } } }`,
		"count":    `query Inbox($unitId: ID!) { inbox(unitId: $unitId) { totalCount } }`,
		"zero":     `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 0) { totalCount pageInfo { hasNextPage } edges { cursor } } }`,
		"toobig":   `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 5000) { totalCount } }`,
		"edges2":   `query Inbox($unitId: ID!) { inbox(unitId: $unitId, first: 2) { a: edges { node { id } } b: edges { cursor } } }`,
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
	for _, who := range accounts {
		tok := e.token(who)
		for _, unit := range unitIDs {
			for name, q := range queries {
				var after any
				for page := 0; page < 3; page++ {
					vars := map[string]any{"unitId": unit, "first": 17, "after": after, "yes": page%2 == 0}
					got, want := postRaw(t, e, tok, q, vars), postRaw(t, ref, tok, q, vars)
					compared++
					if !sameAnswer(got, want) {
						t.Fatalf("%s, %s, unit %s, page %d:\ndirect:    %s\nresolvers: %s", who, name, unit, page, got, want)
					}
					var r result
					if err := json.Unmarshal(got, &r); err != nil {
						t.Fatal(err)
					}
					box := get(r.Data, "inbox")
					if box == nil {
						box = get(r.Data, "box")
					}
					if box == nil || get(box, "pageInfo.hasNextPage") != true {
						break
					}
					pages++
					after = get(box, "pageInfo.endCursor")
				}
			}
			for name, q := range declined {
				vars := map[string]any{"unitId": unit}
				if got, want := postRaw(t, e, tok, q, vars), postRaw(t, ref, tok, q, vars); !sameAnswer(got, want) {
					t.Fatalf("%s, %s, unit %s:\ndirect:    %s\nresolvers: %s", who, name, unit, got, want)
				}
			}
		}
	}
	// The comparison is only worth something if the direct path served:
	// receivers' inboxes, over several pages.
	if joined.Load() == 0 || pages < 20 {
		t.Fatalf("the direct path served %d statements, %d next pages followed: the test compared nothing", joined.Load(), pages)
	}
	t.Logf("%d answers compared, %d direct statements, %d next pages", compared, joined.Load(), pages)
}

// everythingSelection selects every field package direct reads, on Dispatch
// and through its to-one edges (two levels), with __typename.
func everythingSelection(t *testing.T, dialect string) string {
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
				parts = append(parts, name+" "+sel(edges[name], depth+1))
			}
		}
		return "{ " + strings.Join(parts, " ") + " }"
	}
	return sel("Dispatch", 0)
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
