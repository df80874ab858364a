package workflow

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/ent/adminsocialsection"
	"passerelle/ent/careprojectsection"
	"passerelle/ent/medicalsection"
	"passerelle/enums"
	"passerelle/viewer"
)

// reloadedState is how SaveSection used to compute a section's state: from
// the row read back after the update, through its JSON form. It is the
// reference the one-UPDATE computation must agree with.
func reloadedState(row any, required []string) enums.SectionState {
	b, err := json.Marshal(row)
	if err != nil {
		panic(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		panic(err)
	}
	filled := func(name string) bool {
		v, ok := fields[name]
		if !ok || v == nil {
			return false
		}
		if s, ok := v.(string); ok {
			return s != ""
		}
		return true
	}
	complete := true
	for _, f := range required {
		complete = complete && filled(f)
	}
	if complete {
		return enums.SectionStateComplete
	}
	for name := range fields {
		if !slices.Contains(metaFields, name) && filled(name) {
			return enums.SectionStateInProgress
		}
	}
	return enums.SectionStateEmpty
}

// sectionFields maps each content column of a section entity to its Go type.
func sectionFields(entity any) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	t := reflect.TypeOf(entity).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || slices.Contains(metaFields, name) {
			continue
		}
		out[name] = t.Field(i).Type
	}
	return out
}

// randomValue is a value a client may send for a field of type t (as
// graph.patchOf passes it): blank and empty texts, false and 0 included.
func randomValue(rng *rand.Rand, name string, t reflect.Type) any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if values, ok := reflect.New(t).Elem().Interface().(interface{ Values() []string }); ok {
		all := values.Values()
		return reflect.ValueOf(all[rng.IntN(len(all))]).Convert(t).Interface()
	}
	switch t.Kind() {
	case reflect.String:
		return []string{"", "   ", "x", " Un texte ", "Fille"}[rng.IntN(5)]
	case reflect.Int:
		return 10 * rng.IntN(11)
	case reflect.Bool:
		return rng.IntN(2) == 0
	case reflect.Slice: // PALLIA-10
		a := make([]bool, 10)
		for i := range a {
			a[i] = rng.IntN(2) == 0
		}
		return a
	}
	panic(fmt.Sprintf("no random value for %s (%s)", name, t))
}

// TestSectionStateMatchesReloadedRow saves random patches (set, clear,
// blank) into each section and checks the stored state against the
// reference computed from the reloaded row; edits of a validated medical
// section must remove the validation and record who and when.
func TestSectionStateMatchesReloadedRow(t *testing.T) {
	f := newFixture(t)
	care, presc := f.as(careTeam), f.as(prescriber)
	rng := rand.New(rand.NewPCG(7, 11))
	load := func(kind enums.SectionKind, id uuid.UUID) any {
		var (
			row any
			err error
		)
		switch kind {
		case enums.SectionKindMedical:
			row, err = f.db.Client.MedicalSection.Query().Where(medicalsection.RequestID(id)).Only(f.sys)
		case enums.SectionKindCareProject:
			row, err = f.db.Client.CareProjectSection.Query().Where(careprojectsection.RequestID(id)).Only(f.sys)
		default:
			row, err = f.db.Client.AdminSocialSection.Query().Where(adminsocialsection.RequestID(id)).Only(f.sys)
		}
		if err != nil {
			t.Fatal(err)
		}
		return row
	}
	kinds := []struct {
		kind   enums.SectionKind
		fields map[string]reflect.Type
	}{
		{enums.SectionKindMedical, sectionFields(&ent.MedicalSection{})},
		{enums.SectionKindCareProject, sectionFields(&ent.CareProjectSection{})},
		{enums.SectionKindAdminSocial, sectionFields(&ent.AdminSocialSection{})},
	}
	seen := map[enums.SectionState]int{}
	validatedEdits := 0
	for _, k := range kinds {
		id := f.draft("Aléa")
		required := sectionRules[k.kind].required
		names := make([]string, 0, len(k.fields))
		for n := range k.fields {
			names = append(names, n)
		}
		slices.Sort(names)
		for i := range 120 {
			patch := Patch{}
			switch r := rng.IntN(10); {
			case r == 0: // clear everything
				for _, n := range names {
					patch[n] = nil
				}
			case r <= 3: // fill the required fields
				for _, n := range required {
					patch[n] = randomValue(rng, n, k.fields[n])
				}
			}
			for range rng.IntN(4) {
				n := names[rng.IntN(len(names))]
				if rng.IntN(4) == 0 {
					patch[n] = nil
				} else {
					patch[n] = randomValue(rng, n, k.fields[n])
				}
			}
			before := load(k.kind, id)
			if _, err := f.svc.SaveSection(care, id, k.kind, patch, nil); err != nil {
				t.Fatalf("step %d %s %v: %v", i, k.kind, patch, err)
			}
			after := load(k.kind, id)
			want := reloadedState(after, required)
			got := reflect.ValueOf(after).Elem().FieldByName("State").Interface().(enums.SectionState)
			if got != want {
				t.Fatalf("step %d %s: patch %v gave state %s, the stored fields say %s", i, k.kind, patch, got, want)
			}
			seen[got]++
			if k.kind != enums.SectionKindMedical {
				continue
			}
			prev, med := before.(*ent.MedicalSection), after.(*ent.MedicalSection)
			if prev.State == enums.SectionStateValidated {
				validatedEdits++
				v := viewer.FromContext(care).UserID
				if med.ValidatedAt != nil || med.ValidatedByID != nil || med.ValidationRemovedAt == nil ||
					med.ValidationRemovedByID == nil || *med.ValidationRemovedByID != v {
					t.Fatalf("step %d: an edit of a validated section left validated_at=%v by %v, removed_at=%v by %v",
						i, med.ValidatedAt, med.ValidatedByID, med.ValidationRemovedAt, med.ValidationRemovedByID)
				}
			}
			if med.State == enums.SectionStateComplete && rng.IntN(2) == 0 {
				f.must(f.svc.ValidateMedical(presc, id))
			}
		}
	}
	if seen[enums.SectionStateEmpty] == 0 || seen[enums.SectionStateInProgress] == 0 || seen[enums.SectionStateComplete] == 0 || validatedEdits == 0 {
		t.Fatalf("the random walk missed a case: states %v, edits of a validated section %d", seen, validatedEdits)
	}
	t.Logf("states reached %v, edits of a validated section %d", seen, validatedEdits)
}
