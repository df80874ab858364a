package workflow

import (
	"testing"

	"passerelle/enums"
)

// TestEveryCorrectedFieldIsNamed: every field a correction may change has
// its enums.CorrectedField value (the event's reason, labelled in French).
func TestEveryCorrectedFieldIsNamed(t *testing.T) {
	for prefix, fields := range map[string][]string{"": requestFields, "PATIENT_": patientFields} {
		for _, f := range fields {
			got := changed(Patch{f: 1}, prefix)
			if !enums.CorrectedField(got).IsValid() {
				t.Errorf("%s%s: reason %q is not a CorrectedField value", prefix, f, got)
			}
		}
	}
	if got := changed(Patch{"urgency": 1, "desired_admission_date": nil}, ""); got != "URGENCY,DESIRED_ADMISSION_DATE" {
		t.Errorf("reason %q", got)
	}
}
