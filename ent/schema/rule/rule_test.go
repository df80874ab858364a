package rule

import (
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"passerelle/ent/dispatch"
	"passerelle/ent/event"
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
