package e2e

import (
	"testing"

	"passerelle/enums"
)

// TestEnumLabels: every value of every enum of the API has a French label,
// served as data to dashboards.
func TestEnumLabels(t *testing.T) {
	e := newEnv(t)
	r := e.post(e.token(perineStaff), `{ enumLabels { type values { value label } } }`, "", nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	served := map[string]map[string]string{}
	for _, typ := range get(r.Data, "enumLabels").([]any) {
		m := map[string]string{}
		for _, v := range get(typ, "values").([]any) {
			m[str(v, "value")] = str(v, "label")
		}
		served[str(typ, "type")] = m
	}
	for typ, values := range enums.Types {
		for _, v := range values {
			if served[typ][v] == "" {
				t.Errorf("%s.%s has no label", typ, v)
			}
		}
	}
	if got := served["DispatchStatus"]["WITHDRAWN"]; got != "Désistement" {
		t.Errorf("WITHDRAWN is labelled %q", got)
	}
	if got := served["DispatchStatus"]["INFO_REQUESTED"]; got != "Informations complémentaires demandées" {
		t.Errorf("INFO_REQUESTED is labelled %q", got)
	}
}
