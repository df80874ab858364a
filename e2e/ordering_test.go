package e2e

import (
	"testing"
	"time"
)

// Without orderBy, a structure's requests come newest first, and paging
// with cursors walks the same order without gaps or repeats.
func TestAdmissionRequestsDefaultOrderIsNewestFirst(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		e.draftRequest(prescriber)
	}
	const list = `query L($first: Int, $after: Cursor) { admissionRequests(first: $first, after: $after) {
		totalCount pageInfo { hasNextPage endCursor } edges { node { id createdAt } } } }`
	whole := e.post(e.token(prescriber), list, "L", map[string]any{"first": 50})
	if len(whole.Errors) > 0 {
		t.Fatal(whole.Errors)
	}
	edges := get(whole.Data, "admissionRequests.edges").([]any)
	if len(edges) < 5 {
		t.Fatalf("%d requests listed, want at least 5", len(edges))
	}
	var ids []string
	var last time.Time
	for i, edge := range edges {
		at, err := time.Parse(time.RFC3339Nano, str(edge, "node.createdAt"))
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && at.After(last) {
			t.Fatalf("row %d created at %s after the row before it (%s): not newest first", i, at, last)
		}
		last = at
		ids = append(ids, str(edge, "node.id"))
	}
	var paged []string
	vars := map[string]any{"first": 2}
	for page := 0; ; page++ {
		r := e.post(e.token(prescriber), list, "L", vars)
		if len(r.Errors) > 0 || page > len(ids) {
			t.Fatalf("page %d: %v", page, r.Errors)
		}
		for _, edge := range get(r.Data, "admissionRequests.edges").([]any) {
			paged = append(paged, str(edge, "node.id"))
		}
		if get(r.Data, "admissionRequests.pageInfo.hasNextPage") != true {
			break
		}
		vars["after"] = str(r.Data, "admissionRequests.pageInfo.endCursor")
	}
	if len(paged) != len(ids) {
		t.Fatalf("paging by 2 gave %d rows, one page %d", len(paged), len(ids))
	}
	for i := range ids {
		if paged[i] != ids[i] {
			t.Fatalf("row %d: paged %s, one page %s", i, paged[i], ids[i])
		}
	}
}
