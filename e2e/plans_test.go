package e2e

import (
	"regexp"
	"strings"
	"testing"

	"passerelle/store/storetest"
)

// The inbox reads its page in index order and counts on the narrow index
// (docs/performance.md, session 9): the statements the contract's Inbox
// sends, planned by SQLite, sort nothing and use the indexes made for them.
// (PostgreSQL's plans depend on its statistics, which a test database of a
// few rows does not have: SQLite only.)
func TestInboxStatementsUseTheirIndexes(t *testing.T) {
	if storetest.PostgresURL() != "" {
		t.Skip("plans are checked on SQLite")
	}
	var counter statementCounter
	e := newEnvTraced(t, counter.trace)
	perine := e.unitID("USP Sainte-Périne")
	for range 3 {
		id := e.readyRequest(prescriber)
		e.must(prescriber, "Send", map[string]any{"requestId": id, "unitIds": []string{perine}})
	}
	tok := e.token(perineDoctor)
	_, log := counter.count(func() {
		r := e.post(tok, `query Inbox($unitId: ID!, $first: Int, $after: Cursor) {
  inbox(unitId: $unitId, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id status sentAt request { id reference urgency patient { birthName firstName birthDate } } } }
  }
}`, "Inbox", map[string]any{"unitId": perine, "first": 2})
		if len(r.Errors) > 0 || len(get(r.Data, "inbox.edges").([]any)) != 2 {
			t.Fatalf("inbox: %v %+v", r.Data, r.Errors)
		}
	})
	var unit string
	if err := e.app.DB.SQL.QueryRow("SELECT id FROM units WHERE name = 'USP Sainte-Périne'").Scan(&unit); err != nil {
		t.Fatal(err)
	}
	// The statements on a unit's dispatches, with the unit as their only
	// parameter.
	query := regexp.MustCompile(`query=(.*) args=\[`)
	plan := func(stmt string) string {
		rows, err := e.app.DB.SQL.Query("EXPLAIN QUERY PLAN "+stmt, unit)
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		defer rows.Close()
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		return strings.Join(steps, "; ")
	}
	var page, count string
	for _, line := range log {
		m := query.FindStringSubmatch(line)
		if m == nil || !strings.Contains(m[1], "FROM `dispatches`") || strings.Count(m[1], "?") != 1 {
			continue
		}
		switch {
		case strings.HasPrefix(m[1], "SELECT COUNT("):
			count = m[1]
		case strings.Contains(m[1], "ORDER BY"):
			page = m[1]
		}
	}
	if page == "" || count == "" {
		t.Fatalf("the inbox's page and count statements not found in:\n%s", strings.Join(log, "\n"))
	}
	pagePlan, countPlan := plan(page), plan(count)
	if strings.Contains(pagePlan, "TEMP B-TREE") || !strings.Contains(pagePlan, "INDEX dispatch_unit_id_sent_at_id_request_id") {
		t.Errorf("the inbox page sorts or misses its index:\n%s\n%s", page, pagePlan)
	}
	if !strings.Contains(countPlan, "COVERING INDEX dispatch_unit_id ") {
		t.Errorf("the inbox count does not use the narrow index:\n%s\n%s", count, countPlan)
	}

	// The check can fail: with the index in the former order (sent_at
	// ascending), the same page statement sorts its ties.
	for _, s := range []string{
		"DROP INDEX dispatch_unit_id_sent_at_id_request_id",
		"CREATE INDEX dispatch_unit_id_sent_at_id_request_id ON dispatches (unit_id, sent_at, id, request_id)",
	} {
		if _, err := e.app.DB.SQL.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if p := plan(page); !strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("with the former index the page plan should sort its ties: %s", p)
	}
}
