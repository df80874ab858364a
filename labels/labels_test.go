package labels

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var apiName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
var typeName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

func TestLabelsWellFormed(t *testing.T) {
	if len(table) == 0 {
		t.Fatal("no labels")
	}
	for typ, values := range table {
		if !typeName.MatchString(typ) {
			t.Errorf("enum type %q is not a GraphQL type name", typ)
		}
		if len(values) == 0 {
			t.Errorf("%s has no values", typ)
		}
		for v, l := range values {
			if !apiName.MatchString(v) {
				t.Errorf("%s.%s is not an UPPER_SNAKE_CASE value", typ, v)
			}
			if strings.TrimSpace(l) == "" {
				t.Errorf("%s.%s has an empty label", typ, v)
			}
			if !utf8.ValidString(l) {
				t.Errorf("%s.%s label %q is not valid UTF-8", typ, v, l)
			}
			if l != strings.TrimSpace(l) || strings.Contains(l, "  ") {
				t.Errorf("%s.%s label %q has stray white space", typ, v, l)
			}
			if strings.ContainsRune(l, '\uFFFD') {
				t.Errorf("%s.%s label %q contains U+FFFD", typ, v, l)
			}
		}
	}
}

// TestNoDuplicateKeys walks labels.json token by token, because
// encoding/json silently keeps the last of duplicated keys.
func TestNoDuplicateKeys(t *testing.T) {
	dec := json.NewDecoder(bytes.NewReader(labelsJSON))
	var walk func(path string) // reads one value
	walk = func(path string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				k := kt.(string)
				if seen[k] {
					t.Errorf("duplicate key %s.%s in labels.json", path, k)
				}
				seen[k] = true
				walk(path + "." + k)
			}
		case '[':
			for dec.More() {
				walk(path + "[]")
			}
		}
		if _, err := dec.Token(); err != nil { // closing delimiter
			t.Fatalf("%s: %v", path, err)
		}
	}
	walk("$")
	if dec.More() {
		t.Error("trailing data after the top-level object")
	}
}

func TestLabel(t *testing.T) {
	tests := []struct{ typ, value, want string }{
		{"RequestStatus", "SENT", "Envoyée"},
		{"DispatchStatus", "INFO_REQUESTED", "Informations complémentaires demandées"},
		{"RefusalReason", "NOT_USP_INDICATION", "Pas d'indication USP (LISP, EMSP ou HAD plus adaptés)"},
		{"CancellationReason", "CLINICAL_CHANGE", "Évolution de l'état clinique"},
		{"Profile", "CARE_TEAM", "Équipe soignante"},
		{"StructureKind", "MCO", "Médecine, chirurgie, obstétrique"},
		{"UnitKind", "OTHER", "Autre"},
		{"EventType", "REQUEST_UPDATED", "Demande modifiée après envoi"},
		{"SymptomControl", "UNCONTROLLED", "Non contrôlé"},
		{"SectionKind", "CARE_PROJECT", "Volet soins et projet"},
		{"Sex", "FEMALE", "Femme"},
	}
	for _, tt := range tests {
		got, ok := Label(tt.typ, tt.value)
		if !ok || got != tt.want {
			t.Errorf("Label(%q, %q) = %q, %v; want %q", tt.typ, tt.value, got, ok, tt.want)
		}
	}
	for _, unknown := range [][2]string{
		{"RequestStatus", "UNKNOWN"},
		{"RequestStatus", "sent"},
		{"Unknown", "SENT"},
		{"", ""},
		{"requeststatus", "SENT"},
	} {
		if got, ok := Label(unknown[0], unknown[1]); ok || got != "" {
			t.Errorf("Label(%q, %q) = %q, %v; want \"\", false", unknown[0], unknown[1], got, ok)
		}
	}
}

// TestExpectedValues pins the value sets so that a value added to an enum
// without a label (or removed) is noticed.
func TestExpectedValues(t *testing.T) {
	want := map[string][]string{
		"RequestStatus":      {"DRAFT", "SENT", "CONFIRMED", "ADMITTED", "CANCELLED", "ARCHIVED"},
		"DispatchStatus":     {"PENDING", "READ", "INFO_REQUESTED", "ACCEPTED", "ACCEPTED_WITH_RESERVATION", "REFUSED", "CONFIRMED", "WITHDRAWN", "CANCELLED", "ADMITTED", "NOT_ADMITTED"},
		"SectionState":       {"EMPTY", "IN_PROGRESS", "COMPLETE", "VALIDATED"},
		"SectionKind":        {"MEDICAL", "CARE_PROJECT", "ADMIN_SOCIAL"},
		"Urgency":            {"WITHIN_48H", "WITHIN_WEEK", "PLANNED"},
		"RefusalReason":      {"NO_BED_IN_TIME", "NOT_USP_INDICATION", "PROJECT_INCOMPATIBLE", "PATIENT_NOT_INFORMED_OR_NOT_CONSENTING", "OUT_OF_AREA", "CARE_NOT_FEASIBLE", "INCOMPLETE_FILE", "ADMITTED_ELSEWHERE", "OTHER"},
		"CancellationReason": {"PATIENT_DECEASED", "CLINICAL_CHANGE", "RETURN_HOME", "OTHER_ORIENTATION", "PATIENT_REFUSAL", "ADMITTED_ELSEWHERE", "DUPLICATE_OR_ERROR", "OTHER"},
		"NotAdmittedReason":  {"PATIENT_DECEASED", "CLINICAL_CHANGE", "PATIENT_REFUSAL", "ADMITTED_ELSEWHERE", "OTHER"},
		"AnswerDecision":     {"ACCEPT", "ACCEPT_WITH_RESERVATION", "REFUSE"},
		"Profile":            {"PRESCRIBER_PHYSICIAN", "CARE_TEAM", "ADMIN_SOCIAL_MANAGER", "COORDINATING_PHYSICIAN", "NON_MEDICAL_MANAGER", "LIBERAL_PHYSICIAN", "STRUCTURE_REFERENT", "SOCIAL_ORG_REFERENT", "RECEIVER_PHYSICIAN", "RECEIVER_STAFF", "REGIONAL_SUPPORT", "OBSERVER"},
		"StructureKind":      {"MCO", "SMR", "HAD", "USP", "EHPAD", "USLD", "DAC", "EMSP", "LIBERAL_PRACTICE", "REGIONAL_SUPPORT", "AUTHORITY"},
		"UnitKind":           {"USP", "WARD", "SMR", "HAD", "EMSP", "DAC", "EHPAD", "PRACTICE", "OTHER"},
		"EventType":          {"REQUEST_CREATED", "SECTION_UPDATED", "MEDICAL_VALIDATED", "REQUEST_SENT", "DISPATCH_READ", "INFORMATION_REQUESTED", "MESSAGE_POSTED", "DISPATCH_ACCEPTED", "DISPATCH_REFUSED", "DISPATCH_CONFIRMED", "DISPATCH_WITHDRAWN", "REQUEST_CANCELLED", "PATIENT_ADMITTED", "PATIENT_NOT_ADMITTED", "REQUEST_UPDATED", "REQUEST_ARCHIVED"},
		"Prognosis":          {"DAYS", "WEEKS", "MONTHS"},
		"InformationLevel":   {"YES", "PARTIAL", "NO"},
		"StayGoal":           {"SYMPTOM_CONTROL", "END_OF_LIFE", "RESPITE", "EVALUATION"},
		"Sedation":           {"NONE", "ANTICIPATED", "REQUESTED", "IN_PLACE"},
		"SymptomControl":     {"ABSENT", "CONTROLLED", "PARTIALLY_CONTROLLED", "UNCONTROLLED"},
		"DependenceLevel":    {"AUTONOMOUS", "PARTIAL", "TOTAL"},
		"Sex":                {"FEMALE", "MALE", "OTHER"},
		"CorrectedField":     {"URGENCY", "DESIRED_ADMISSION_DATE", "PATIENT_BIRTH_NAME", "PATIENT_USED_NAME", "PATIENT_FIRST_NAME", "PATIENT_BIRTH_DATE", "PATIENT_BIRTH_PLACE", "PATIENT_SEX", "PATIENT_INS"},
	}
	all := All()
	for typ, values := range want {
		got := make([]string, 0, len(all[typ]))
		for v := range all[typ] {
			got = append(got, v)
		}
		slices.Sort(got)
		w := slices.Clone(values)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s values = %v, want %v", typ, got, w)
		}
	}
	if len(all) != len(want) {
		t.Errorf("labels has %d types, test expects %d", len(all), len(want))
	}
}

func TestAllReturnsACopy(t *testing.T) {
	a := All()
	a["RequestStatus"]["SENT"] = "modifié"
	delete(a, "Sex")
	a["New"] = map[string]string{"X": "x"}
	if l, _ := Label("RequestStatus", "SENT"); l != "Envoyée" {
		t.Errorf("All() exposed the internal table: SENT is now %q", l)
	}
	if _, ok := Label("Sex", "MALE"); !ok {
		t.Error("deleting from All() changed the table")
	}
	if _, ok := Label("New", "X"); ok {
		t.Error("adding to All() changed the table")
	}
}

func TestTypes(t *testing.T) {
	types := Types()
	if !slices.IsSorted(types) {
		t.Errorf("Types() not sorted: %v", types)
	}
	if len(types) != len(table) {
		t.Errorf("Types() has %d entries, table %d", len(types), len(table))
	}
	for _, typ := range types {
		if _, ok := table[typ]; !ok {
			t.Errorf("Types() lists unknown %q", typ)
		}
	}
	types[0] = "mutated"
	if Types()[0] == "mutated" {
		t.Error("Types() shares its backing array")
	}
}
