package graph

import (
	"fmt"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"passerelle/ent/patient"
	"passerelle/ent/predicate"
	"passerelle/ent/schema/rule"
	"passerelle/enums"
	"passerelle/viewer"
)

// TestPatientRuleIsTheRequestRule pins what the direct reads rely on when
// they join a request's patient without the patient's row rule
// (direct.Edge.RuleImplied in NewDirect): a patient is visible exactly when
// one of its requests is. Should rule.PatientVisible ever say more (hide
// some patients of visible requests), this fails, and the patient edge of
// NewDirect must carry its rule again.
func TestPatientRuleIsTheRequestRule(t *testing.T) {
	s, u, r := uuid.New(), uuid.New(), uuid.New()
	hab := func(p enums.Profile, unit *uuid.UUID) viewer.Habilitation {
		return viewer.Habilitation{ID: uuid.New(), Profile: p, StructureID: s, UnitID: unit}
	}
	viewers := map[string]*viewer.Viewer{
		"no habilitation":           {},
		"prescriber of a structure": {Habilitations: []viewer.Habilitation{hab(enums.ProfilePrescriberPhysician, nil)}},
		"prescriber of a unit":      {Habilitations: []viewer.Habilitation{hab(enums.ProfilePrescriberPhysician, &u)}},
		"receiver":                  {Habilitations: []viewer.Habilitation{hab(enums.ProfileReceiverPhysician, &r)}, ReceivingUnits: []uuid.UUID{r}},
		"both sides": {Habilitations: []viewer.Habilitation{hab(enums.ProfileCareTeam, nil), hab(enums.ProfileReceiverStaff, &r)},
			ReceivingUnits: []uuid.UUID{r}},
	}
	render := func(p predicate.Patient) (string, []any) {
		sel := entsql.Dialect(dialect.SQLite).Select("*").From(entsql.Table(patient.Table))
		p(sel)
		return sel.Query()
	}
	for name, v := range viewers {
		gotQ, gotArgs := render(rule.PatientVisible(v))
		wantQ, wantArgs := render(patient.HasRequestsWith(rule.RequestVisible(v)))
		if gotQ != wantQ || fmt.Sprint(gotArgs) != fmt.Sprint(wantArgs) {
			t.Errorf("%s: the patient rule is not \"has a visible request\":\n%s %v\nwant\n%s %v", name, gotQ, gotArgs, wantQ, wantArgs)
		}
	}
}
