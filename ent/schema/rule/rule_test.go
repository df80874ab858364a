package rule

import (
	"fmt"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"passerelle/ent/adminsocialsection"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/careprojectsection"
	"passerelle/ent/dispatch"
	"passerelle/ent/event"
	"passerelle/ent/medicalsection"
	"passerelle/ent/patient"
	"passerelle/ent/predicate"
	"passerelle/enums"
	"passerelle/viewer"
)

// render returns the WHERE clause a predicate adds to a query of table.
func render(table string, apply func(*sql.Selector)) string {
	s := sql.Dialect(dialect.SQLite).Select("*").From(sql.Table(table))
	apply(s)
	q, _ := s.Query()
	return q
}

func TestRowRulesOnlyJoinTheSidesTheViewerHolds(t *testing.T) {
	unit, structure := uuid.New(), uuid.New()
	receiver := &viewer.Viewer{
		Habilitations:  []viewer.Habilitation{{Profile: enums.ProfileReceiverPhysician, StructureID: structure, UnitID: &unit}},
		ReceivingUnits: []uuid.UUID{unit},
	}
	prescriber := &viewer.Viewer{
		Habilitations: []viewer.Habilitation{{Profile: enums.ProfilePrescriberPhysician, StructureID: structure}},
	}
	both := &viewer.Viewer{
		Habilitations:  append(append([]viewer.Habilitation{}, receiver.Habilitations...), prescriber.Habilitations...),
		ReceivingUnits: receiver.ReceivingUnits,
	}
	observer := &viewer.Viewer{
		Habilitations: []viewer.Habilitation{{Profile: enums.ProfileObserver, StructureID: structure}},
	}
	for _, c := range []struct {
		name                    string
		v                       *viewer.Viewer
		joinsRequests, ownUnits bool
	}{
		{"receiver", receiver, false, true},
		{"prescriber", prescriber, true, false},
		{"both sides", both, true, true},
		{"observer", observer, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for table, where := range map[string]string{
				dispatch.Table: render(dispatch.Table, DispatchVisible(c.v)),
				event.Table:    render(event.Table, EventVisible(c.v)),
			} {
				if got := strings.Contains(where, "`admission_requests`"); got != c.joinsRequests {
					t.Errorf("%s: sub-query on requests = %v, want %v:\n%s", table, got, c.joinsRequests, where)
				}
				if got := strings.Contains(where, "`unit_id` IN"); got != c.ownUnits {
					t.Errorf("%s: own units = %v, want %v:\n%s", table, got, c.ownUnits, where)
				}
				if !c.joinsRequests && !c.ownUnits && !strings.Contains(where, "FALSE") {
					t.Errorf("%s: a viewer on neither side must match nothing:\n%s", table, where)
				}
			}
		})
	}
}

func TestAsReceiverOf(t *testing.T) {
	unit, other, structure := uuid.New(), uuid.New(), uuid.New()
	receiving := viewer.Habilitation{Profile: enums.ProfileReceiverPhysician, StructureID: structure, UnitID: &unit}
	staff := viewer.Habilitation{Profile: enums.ProfileReceiverStaff, StructureID: structure}
	requesting := viewer.Habilitation{Profile: enums.ProfilePrescriberPhysician, StructureID: uuid.New()}
	for _, c := range []struct {
		name string
		v    *viewer.Viewer
	}{
		{"receiver of this unit only", &viewer.Viewer{Habilitations: []viewer.Habilitation{receiving}, ReceivingUnits: []uuid.UUID{unit}}},
		{"physician and staff of the unit", &viewer.Viewer{Habilitations: []viewer.Habilitation{receiving, staff}, ReceivingUnits: []uuid.UUID{unit, unit, other}}},
		{"receiver of two units", &viewer.Viewer{Habilitations: []viewer.Habilitation{receiving, staff}, ReceivingUnits: []uuid.UUID{other, unit}}},
		{"receiver who also prescribes", &viewer.Viewer{Habilitations: []viewer.Habilitation{requesting, receiving}, ReceivingUnits: []uuid.UUID{unit}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := render(dispatch.Table, DispatchVisible(c.v))
			narrow := AsReceiverOf(c.v, unit)
			if narrow == nil {
				t.Fatal("a receiver of the unit has no receiver view of it")
			}
			// The unit's dispatches and nothing else: one condition, no
			// sub-query on requests, the unit as the only argument.
			where := render(dispatch.Table, DispatchVisible(narrow))
			if !strings.HasSuffix(where, "WHERE `dispatches`.`unit_id` IN (?)") {
				t.Fatalf("narrowed rule is not the unit alone:\n%s", where)
			}
			if len(narrow.ReceivingUnits) != 1 || narrow.ReceivingUnits[0] != unit {
				t.Fatalf("receiving units %v, want [%v]", narrow.ReceivingUnits, unit)
			}
			for _, h := range narrow.Habilitations {
				if h.Profile == enums.ProfilePrescriberPhysician {
					t.Fatalf("a requesting grant survived: %+v", h)
				}
			}
			// Narrowing never touches the viewer it narrows.
			if after := render(dispatch.Table, DispatchVisible(c.v)); after != before {
				t.Fatalf("the original viewer changed:\n%s\n%s", before, after)
			}
			if narrow.UserID != c.v.UserID || narrow.SessionID != c.v.SessionID {
				t.Fatal("narrowing changed who is acting")
			}
		})
	}
	t.Run("not a receiver of the unit", func(t *testing.T) {
		for _, v := range []*viewer.Viewer{
			nil,
			{Habilitations: []viewer.Habilitation{requesting}},
			{Habilitations: []viewer.Habilitation{receiving}, ReceivingUnits: []uuid.UUID{other}},
		} {
			if AsReceiverOf(v, unit) != nil {
				t.Fatalf("%+v got a receiver view of a unit it does not receive for", v)
			}
		}
	})
}

func TestSectionVisibleOnEveryTable(t *testing.T) {
	unit, structure := uuid.New(), uuid.New()
	receiver := &viewer.Viewer{
		Habilitations:  []viewer.Habilitation{{Profile: enums.ProfileReceiverPhysician, StructureID: structure, UnitID: &unit}},
		ReceivingUnits: []uuid.UUID{unit},
	}
	prescriber := &viewer.Viewer{Habilitations: []viewer.Habilitation{{Profile: enums.ProfilePrescriberPhysician, StructureID: structure}}}
	for table, where := range map[string]func(*viewer.Viewer) func(*sql.Selector){
		medicalsection.Table: func(v *viewer.Viewer) func(*sql.Selector) {
			return SectionVisible[predicate.MedicalSection](v, medicalsection.HasRequestWith)
		},
		careprojectsection.Table: func(v *viewer.Viewer) func(*sql.Selector) {
			return SectionVisible[predicate.CareProjectSection](v, careprojectsection.HasRequestWith)
		},
		adminsocialsection.Table: func(v *viewer.Viewer) func(*sql.Selector) {
			return SectionVisible[predicate.AdminSocialSection](v, adminsocialsection.HasRequestWith)
		},
	} {
		// A receiver: its units' dispatches, open or closed no earlier than
		// the section's last change, on this table's own columns.
		got := render(table, where(receiver))
		for _, want := range []string{"`" + table + "`.`request_id`", "`" + table + "`.`updated_at`", "`closed_at` IS NULL", "`unit_id` IN (?)"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s, receiver: no %s in\n%s", table, want, got)
			}
		}
		// The requesting side: its requests, whatever became of the dispatches.
		if got := render(table, where(prescriber)); strings.Contains(got, "closed_at") || !strings.Contains(got, "`origin_structure_id`") {
			t.Errorf("%s, prescriber:\n%s", table, got)
		}
		// Neither side: nothing.
		if got := render(table, where(&viewer.Viewer{})); !strings.Contains(got, "FALSE") {
			t.Errorf("%s, no grant:\n%s", table, got)
		}
	}
}

// TestDispatchRequestRuleIsImplied pins what lets the direct reads join a
// dispatch's request without the request rule (graph/direct_reads.go,
// "request" of Dispatch, RuleImplied): every dispatch DispatchVisible admits
// has a request RequestVisible admits, because both rules are made of the
// same two sides — the requesting side (requestingSide: the request's
// origin) and the receiving side (receivedBy: the dispatch's unit). A change
// to either rule that is not made to both fails here; then review that edge.
func TestDispatchRequestRuleIsImplied(t *testing.T) {
	for name, v := range sideViewers() {
		own, requesting := requestingSide(v)
		received, receiving := receivedBy(v)
		var reqOrs []predicate.AdmissionRequest
		var dispOrs []predicate.Dispatch
		if requesting {
			reqOrs = append(reqOrs, own)
			dispOrs = append(dispOrs, dispatch.HasRequestWith(own))
		}
		if receiving {
			reqOrs = append(reqOrs, admissionrequest.HasDispatchesWith(received))
			dispOrs = append(dispOrs, received)
		}
		if len(reqOrs) == 0 {
			if got := withArgs(dispatch.Table, DispatchVisible(v)); got != withArgs(dispatch.Table, dispatch.IDIn()) {
				t.Errorf("%s: a viewer with no side sees dispatches: %s", name, got)
			}
			continue
		}
		// requestingSide is RequestVisible's requesting disjuncts, flattened
		// by ent's Or: compare the rendered WHERE clauses.
		if got, want := withArgs(admissionrequest.Table, RequestVisible(v)),
			withArgs(admissionrequest.Table, admissionrequest.Or(reqOrs...)); got != want {
			t.Errorf("%s: RequestVisible is not \"requesting side or has a dispatch received\":\n%s\nwant\n%s", name, got, want)
		}
		if got, want := withArgs(dispatch.Table, DispatchVisible(v)),
			withArgs(dispatch.Table, dispatch.Or(dispOrs...)); got != want {
			t.Errorf("%s: DispatchVisible is not \"request of the requesting side or received\":\n%s\nwant\n%s", name, got, want)
		}
	}
}

// sideViewers are viewers of each combination of sides: none, requesting
// (structure-wide or unit-scoped), receiving, both.
func sideViewers() map[string]*viewer.Viewer {
	s, u, r := uuid.New(), uuid.New(), uuid.New()
	hab := func(p enums.Profile, unit *uuid.UUID) viewer.Habilitation {
		return viewer.Habilitation{ID: uuid.New(), Profile: p, StructureID: s, UnitID: unit}
	}
	return map[string]*viewer.Viewer{
		"no habilitation":           {},
		"prescriber of a structure": {Habilitations: []viewer.Habilitation{hab(enums.ProfilePrescriberPhysician, nil)}},
		"prescriber of a unit":      {Habilitations: []viewer.Habilitation{hab(enums.ProfilePrescriberPhysician, &u)}},
		"receiver":                  {Habilitations: []viewer.Habilitation{hab(enums.ProfileReceiverPhysician, &r)}, ReceivingUnits: []uuid.UUID{r}},
		"both sides": {Habilitations: []viewer.Habilitation{hab(enums.ProfileCareTeam, nil), hab(enums.ProfileReceiverStaff, &r)},
			ReceivingUnits: []uuid.UUID{r}},
	}
}

// withArgs renders the WHERE clause a predicate adds to a query of table,
// with its arguments.
func withArgs(table string, apply func(*sql.Selector)) string {
	sel := sql.Dialect(dialect.SQLite).Select("*").From(sql.Table(table))
	apply(sel)
	q, args := sel.Query()
	return fmt.Sprint(q, args)
}

// TestPatientRuleIsTheRequestRule pins what the direct reads rely on when
// they join a request's patient without the patient's row rule
// (graph/direct_reads.go, "patient" of AdmissionRequest, RuleImplied): a
// patient is visible exactly when one of its requests is. Should
// PatientVisible ever say more (hide some patients of visible requests),
// this fails, and that edge must carry its rule again.
func TestPatientRuleIsTheRequestRule(t *testing.T) {
	for name, v := range sideViewers() {
		got := withArgs(patient.Table, PatientVisible(v))
		want := withArgs(patient.Table, patient.HasRequestsWith(RequestVisible(v)))
		if got != want {
			t.Errorf("%s: the patient rule is not \"has a visible request\":\n%s\nwant\n%s", name, got, want)
		}
	}
}

// TestRequestingSideRulesAreImplied pins what the direct reads rely on when
// they read a visible request's sections and dispatches without their row
// rules for a viewer of the requesting side only (graph/direct_reads.go,
// RuleImpliedFor: rule.RequestingSideOnly): for such a viewer each of those
// rules is "has a visible request". A receiver's rules say more (sections
// changed after its dispatch closed, the other units' dispatches), so for
// any viewer with a receiving unit RequestingSideOnly must be false.
func TestRequestingSideRulesAreImplied(t *testing.T) {
	implied := 0
	for name, v := range sideViewers() {
		if !RequestingSideOnly(v) {
			if _, requesting := requestingSide(v); requesting && len(v.ReceivingUnits) == 0 {
				t.Errorf("%s: of the requesting side only, yet not RequestingSideOnly", name)
			}
			continue
		}
		if len(v.ReceivingUnits) > 0 {
			t.Errorf("%s: receives for a unit, yet RequestingSideOnly", name)
			continue
		}
		implied++
		visible := RequestVisible(v)
		for _, c := range []struct{ table, got, want string }{
			{medicalsection.Table, withArgs(medicalsection.Table, SectionVisible[predicate.MedicalSection](v, medicalsection.HasRequestWith)),
				withArgs(medicalsection.Table, medicalsection.HasRequestWith(visible))},
			{careprojectsection.Table, withArgs(careprojectsection.Table, SectionVisible[predicate.CareProjectSection](v, careprojectsection.HasRequestWith)),
				withArgs(careprojectsection.Table, careprojectsection.HasRequestWith(visible))},
			{adminsocialsection.Table, withArgs(adminsocialsection.Table, SectionVisible[predicate.AdminSocialSection](v, adminsocialsection.HasRequestWith)),
				withArgs(adminsocialsection.Table, adminsocialsection.HasRequestWith(visible))},
			{dispatch.Table, withArgs(dispatch.Table, DispatchVisible(v)), withArgs(dispatch.Table, dispatch.HasRequestWith(visible))},
		} {
			if c.got != c.want {
				t.Errorf("%s: the rule of %s is not \"has a visible request\":\n%s\nwant\n%s", name, c.table, c.got, c.want)
			}
		}
	}
	if implied == 0 {
		t.Fatal("no viewer of the requesting side only among sideViewers")
	}
}
