package workflow

import (
	"testing"

	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/ent/sectionversion"
	"passerelle/enums"
)

// TestKeepReceivedVersions: a section is kept as it stood only when an edit
// replaces a version that a closed dispatch had received, once per
// version; the kept version is read by that unit's receivers only.
func TestKeepReceivedVersions(t *testing.T) {
	f := newFixture(t)
	perine, garnier := f.unitID("USP Sainte-Périne"), f.unitID("Maison médicale Jeanne Garnier")
	care, presc := f.as(careTeam), f.as(prescriber)
	kept := func() []*ent.SectionVersion {
		t.Helper()
		vs, err := f.db.Client.SectionVersion.Query().Order(ent.Asc(sectionversion.FieldSupersededAt)).All(f.sys)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	save := func(kind enums.SectionKind, id uuid.UUID, p Patch) { f.must(f.svc.SaveSection(care, id, kind, p, nil)) }

	id := f.ready("Durand")
	sent, err := f.svc.Send(presc, id, []uuid.UUID{perine, garnier})
	if err != nil {
		t.Fatal(err)
	}
	save(enums.SectionKindCareProject, id, Patch{"dependence": "Partielle"}) // every dispatch open
	if n := len(kept()); n != 0 {
		t.Fatalf("%d versions kept while no dispatch had closed", n)
	}

	f.must(f.svc.Withdraw(presc, f.dispatchTo(sent, garnier)))
	save(enums.SectionKindMedical, id, Patch{"diagnosis": "Diagnostic revu"})
	save(enums.SectionKindMedical, id, Patch{"history": "HTA"}) // the version replaced now was never received
	f.must(f.svc.ValidateMedical(presc, id))                    // nor this one
	save(enums.SectionKindCareProject, id, Patch{"dependence": "Totale"})
	vs := kept()
	if len(vs) != 2 || vs[0].Kind != enums.SectionKindMedical || vs[1].Kind != enums.SectionKindCareProject {
		t.Fatalf("want the medical then the care section kept once each, got %d versions", len(vs))
	}

	other := f.ready("Petit") // a request without versions, read in the same statement
	meds, err := ReceivedSections[ent.MedicalSection](f.as(garnierDoc), f.svc, []uuid.UUID{id, other}, enums.SectionKindMedical)
	if err != nil {
		t.Fatal(err)
	}
	med := meds[id]
	if len(meds) != 1 || med == nil || med.Diagnosis == nil || *med.Diagnosis != "Adénocarcinome pancréatique" ||
		med.State != enums.SectionStateValidated || med.ValidatedByID == nil {
		t.Fatalf("the version kept is not the one received: %+v", meds)
	}
	cps, err := ReceivedSections[ent.CareProjectSection](f.as(garnierDoc), f.svc, []uuid.UUID{id}, enums.SectionKindCareProject)
	if cp := cps[id]; err != nil || cp == nil || cp.Dependence == nil || *cp.Dependence != "Partielle" {
		t.Fatalf("care section received: %v %+v", err, cps)
	}
	// Sainte-Périne's dispatch is open (it reads the section as it is), the
	// requesting side reads the request as it is: neither reads a version.
	for _, who := range []string{perineDoctor, prescriber, careTeam, forcilles} {
		if ms, err := ReceivedSections[ent.MedicalSection](f.as(who), f.svc, []uuid.UUID{id}, enums.SectionKindMedical); err != nil || len(ms) > 0 {
			t.Fatalf("%s read a kept version: %v %v", who, ms, err)
		}
	}
}
