package workflow

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/enums"
	"passerelle/viewer"
)

// TestCreateOrigin: a request is created for a structure (and unit) the
// viewer holds; an unknown structure is NOT_FOUND, another existing one
// FORBIDDEN, a unit of another structure BAD_INPUT — whether the structure
// is looked up (not held) or known from the viewer's habilitations (held).
func TestCreateOrigin(t *testing.T) {
	f := newFixture(t)
	ctx := f.as(careTeam)
	held := viewer.FromContext(ctx).Habilitations[0].StructureID
	perine := f.unitID("USP Sainte-Périne")
	other, err := f.db.Client.Unit.Get(f.sys, perine)
	if err != nil {
		t.Fatal(err)
	}
	create := func(structure uuid.UUID, unit *uuid.UUID) error {
		_, err := f.svc.Create(ctx, CreateInput{OriginStructureID: structure, OriginUnitID: unit, Urgency: enums.UrgencyWithinWeek,
			Patient: PatientInput{BirthName: "Origine", FirstName: "Anne", Sex: enums.SexFemale,
				BirthDate: time.Date(1950, 1, 2, 0, 0, 0, 0, time.UTC)}})
		return err
	}
	for _, c := range []struct {
		name      string
		structure uuid.UUID
		unit      *uuid.UUID
		want      apperr.Code // "" for success
	}{
		{"held structure", held, nil, ""},
		{"unknown structure", uuid.New(), nil, apperr.NotFound},
		{"another structure", other.StructureID, nil, apperr.Forbidden},
		{"held structure, unknown unit", held, new(uuid.New()), apperr.NotFound},
		{"held structure, unit of another", held, &perine, apperr.BadUserInput},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := create(c.structure, c.unit)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := apperr.From(err).Code; got != c.want {
				t.Fatalf("got %v (%v), want %s", got, err, c.want)
			}
		})
	}
}

// TestReferences: each request takes the next number of its year's counter,
// also when created concurrently (the counter's upsert returns its value).
func TestReferences(t *testing.T) {
	f := newFixture(t)
	ctx := f.as(careTeam)
	ref := func(id uuid.UUID) string {
		r, err := f.db.Client.AdmissionRequest.Get(f.sys, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Reference
	}
	year := time.Now().UTC().Year()
	var first int
	if _, err := fmt.Sscanf(ref(f.create(ctx, "Premier")), fmt.Sprintf("USP-%d-%%d", year), &first); err != nil {
		t.Fatal(err)
	}
	if got, want := ref(f.create(ctx, "Second")), fmt.Sprintf("USP-%d-%06d", year, first+1); got != want {
		t.Fatalf("second reference %s, want %s", got, want)
	}
	const n = 8
	refs := make(chan string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := f.svc.Create(ctx, CreateInput{OriginStructureID: viewer.FromContext(ctx).Habilitations[0].StructureID,
				Urgency: enums.UrgencyWithinWeek, Patient: PatientInput{BirthName: fmt.Sprintf("Concurrent%d", i), FirstName: "Anne",
					Sex: enums.SexFemale, BirthDate: time.Date(1950, 1, 2, 0, 0, 0, 0, time.UTC)}})
			if err != nil {
				errs <- err
				return
			}
			refs <- c.Request.Reference
		})
	}
	wg.Wait()
	close(refs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for r := range refs {
		seen[r] = true
	}
	for k := first + 2; k < first+2+n; k++ {
		if r := fmt.Sprintf("USP-%d-%06d", year, k); !seen[r] {
			t.Errorf("no request got %s (got %v)", r, seen)
		}
	}
}
