package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"

	"passerelle/ent/accesslog"
	"passerelle/viewer"
)

// statementCounter counts the SQL statements sent while it is armed.
type statementCounter struct {
	mu    sync.Mutex
	armed bool
	n     int
	log   []string
}

func (c *statementCounter) trace(_ context.Context, stmt string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed {
		c.n++
		c.log = append(c.log, stmt)
	}
}

func (c *statementCounter) count(f func()) (int, []string) {
	c.mu.Lock()
	c.armed, c.n, c.log = true, 0, nil
	c.mu.Unlock()
	f()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	return c.n, c.log
}

// dashboard is the prescriber dashboard: requests with patient, sections
// and every dispatch with its unit (the load harness's S2: its contract
// test checks they are the same).
const dashboard = `query Dashboard($first: Int) {
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

// TestStatementsDoNotGrowWithRows fails when a list query issues SQL per row
// (N+1): the same dashboard over 2 and over 8 requests must cost the same.
func TestStatementsDoNotGrowWithRows(t *testing.T) {
	var counter statementCounter
	e := newEnvTraced(t, counter.trace)
	perine, garnier := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier")
	for range 8 {
		id := e.readyRequest(prescriber)
		e.must(prescriber, "Send", map[string]any{"requestId": id, "unitIds": []string{perine, garnier}})
	}
	tok := e.token(prescriber)
	run := func(n int) int {
		got, log := counter.count(func() {
			r := e.post(tok, dashboard, "Dashboard", map[string]any{"first": n})
			if len(r.Errors) > 0 {
				t.Fatalf("dashboard: %+v", r.Errors)
			}
			if edges := get(r.Data, "admissionRequests.edges").([]any); len(edges) != n {
				t.Fatalf("want %d rows, got %d", n, len(edges))
			}
		})
		t.Logf("%d rows: %d statements\n%s", n, got, strings.Join(log, "\n"))
		return got
	}
	small, large := run(2), run(8)
	if large != small {
		t.Fatalf("statements grow with rows: %d for 2 rows, %d for 8 (N+1)", small, large)
	}

	// The same dashboard as a receiver (the sections' row rule looks at the
	// unit's dispatches: in the query, not per row).
	doc := e.token(perineDoctor)
	asReceiver := func(n int) int {
		got, _ := counter.count(func() {
			r := e.post(doc, dashboard, "Dashboard", map[string]any{"first": n})
			if len(r.Errors) > 0 || len(get(r.Data, "admissionRequests.edges").([]any)) != n ||
				get(r.Data, "admissionRequests.edges.0.node.medical.state") == nil {
				t.Fatalf("receiver dashboard: %v %+v", r.Data, r.Errors)
			}
		})
		return got
	}
	if small, large := asReceiver(2), asReceiver(8); large != small {
		t.Fatalf("receiver dashboard statements grow with rows: %d for 2 rows, %d for 8 (N+1)", small, large)
	}

	// The receiver dashboard: the contract's Inbox.
	inbox := func(n int) int {
		got, _ := counter.count(func() {
			r := e.post(doc, contract, "Inbox", map[string]any{"unitId": perine, "first": n})
			if len(r.Errors) > 0 || len(get(r.Data, "inbox.edges").([]any)) != n {
				t.Fatalf("inbox: %+v", r.Errors)
			}
		})
		return got
	}
	if small, large := inbox(2), inbox(8); large != small {
		t.Fatalf("inbox statements grow with rows: %d for 2 rows, %d for 8 (N+1)", small, large)
	}

	// A unit withdrawn from every request, whose sections changed since: it
	// reads the versions it had received, one statement per section kind
	// for the page (workflow.ReceivedSections), not one per request.
	for _, edge := range get(e.post(tok, dashboard, "Dashboard", map[string]any{"first": 8}).Data, "admissionRequests.edges").([]any) {
		for _, d := range get(edge, "node.dispatches").([]any) {
			if str(d, "unit.id") == garnier {
				e.must(prescriber, "Withdraw", map[string]any{"dispatchId": str(d, "id")})
			}
		}
		id := str(edge, "node.id")
		e.must(careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{"diagnosis": "Révisé"}})
		e.must(careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"dependence": "Révisée"}})
	}
	gdoc := e.token(garnierDoc)
	withdrawn := func(n int) int {
		got, log := counter.count(func() {
			r := e.post(gdoc, dashboard, "Dashboard", map[string]any{"first": n})
			edges, _ := get(r.Data, "admissionRequests.edges").([]any)
			if len(r.Errors) > 0 || len(edges) != n {
				t.Fatalf("withdrawn unit's dashboard: %v %+v", r.Data, r.Errors)
			}
			for _, edge := range edges {
				if got := str(edge, "node.medical.diagnosis"); got != "Adénocarcinome pancréatique métastatique" ||
					str(edge, "node.careProject.state") != "COMPLETE" {
					t.Fatalf("the withdrawn unit must read what it received: %v", edge)
				}
			}
		})
		t.Logf("withdrawn, %d rows: %d statements\n%s", n, got, strings.Join(log, "\n"))
		return got
	}
	if small, large := withdrawn(2), withdrawn(8); large != small {
		t.Fatalf("withdrawn unit's statements grow with rows: %d for 2 rows, %d for 8 (N+1)", small, large)
	}
}

// TestMedicalReadsAreLogged: every reading of a medical section leaves an
// access-log row; reading other sections does not.
func TestMedicalReadsAreLogged(t *testing.T) {
	e := newEnv(t)
	id := e.draftRequest(careTeam)
	logged := func() int {
		n, err := e.app.DB.Client.AccessLog.Query().Where(accesslog.KindEQ("MEDICAL_SECTION_READ")).Count(viewer.System(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := logged()
	e.must(prescriber, "Request", map[string]any{"id": id})
	if got := logged(); got != before+1 {
		t.Fatalf("medical reads logged: %d, want %d", got, before+1)
	}
	e.must(prescriber, "Viewer", nil)
	r := e.post(e.token(prescriber), `query($id: ID!) { node(id: $id) { ... on AdmissionRequest { careProject { state } } } }`, "", map[string]any{"id": id})
	if len(r.Errors) > 0 || logged() != before+1 {
		t.Fatalf("a care-section read was logged as medical (%d) or failed %v", logged(), r.Errors)
	}
}
