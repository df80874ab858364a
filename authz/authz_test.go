package authz

import (
	"testing"

	"github.com/google/uuid"

	"passerelle/enums"
	"passerelle/viewer"
)

// TestEveryProfileHasARow: the table covers every profile of the API.
func TestEveryProfileHasARow(t *testing.T) {
	for _, p := range enums.ProfileValues {
		if _, ok := Table[p]; !ok {
			t.Errorf("profile %s has no row", p)
		}
	}
}

// TestMedicalSecrecy walks the table for the rules the brief spells out.
func TestMedicalSecrecy(t *testing.T) {
	cases := []struct {
		p                                   enums.Profile
		readMedical, writeMedical, validate bool
	}{
		{enums.ProfilePrescriberPhysician, true, true, true},
		{enums.ProfileCareTeam, true, true, false},
		{enums.ProfileAdminSocialManager, false, false, false},
		{enums.ProfileCoordinatingPhysician, true, true, true},
		{enums.ProfileNonMedicalManager, true, false, false},
		{enums.ProfileLiberalPhysician, true, true, true},
		{enums.ProfileStructureReferent, false, false, false},
		{enums.ProfileSocialOrgReferent, false, false, false},
		{enums.ProfileReceiverPhysician, true, false, false},
		{enums.ProfileReceiverStaff, false, false, false},
		{enums.ProfileRegionalSupport, false, false, false},
		{enums.ProfileObserver, false, false, false},
	}
	for _, c := range cases {
		if Allows(c.p, ReadMedical) != c.readMedical || Allows(c.p, WriteMedical) != c.writeMedical ||
			Allows(c.p, ValidateMedical) != c.validate {
			t.Errorf("%s: read/write/validate medical = %v/%v/%v, want %v/%v/%v", c.p,
				Allows(c.p, ReadMedical), Allows(c.p, WriteMedical), Allows(c.p, ValidateMedical),
				c.readMedical, c.writeMedical, c.validate)
		}
	}
	if Allows(enums.ProfileReceiverStaff, AnswerDispatch) || !Allows(enums.ProfileReceiverPhysician, AnswerDispatch) {
		t.Error("only the receiving physician accepts or refuses")
	}
}

func TestFitsStructure(t *testing.T) {
	usp, ward := enums.UnitKindUsp, enums.UnitKindWard
	for _, c := range []struct {
		p    enums.Profile
		kind enums.StructureKind
		unit *enums.UnitKind
		ok   bool
	}{
		{enums.ProfileReceiverPhysician, enums.StructureKindMco, &usp, true},
		{enums.ProfileReceiverPhysician, enums.StructureKindMco, &ward, false},
		{enums.ProfileReceiverPhysician, enums.StructureKindMco, nil, false},
		{enums.ProfileReceiverStaff, enums.StructureKindUsp, nil, true},
		{enums.ProfileCoordinatingPhysician, enums.StructureKindDac, nil, true},
		{enums.ProfileCoordinatingPhysician, enums.StructureKindMco, nil, false},
		{enums.ProfileLiberalPhysician, enums.StructureKindLiberalPractice, nil, true},
		{enums.ProfileObserver, enums.StructureKindAuthority, nil, true},
		{enums.ProfileObserver, enums.StructureKindMco, nil, false},
	} {
		if ok, why := FitsStructure(c.p, c.kind, c.unit); ok != c.ok {
			t.Errorf("%s on %s (unit %v) = %v (%s), want %v", c.p, c.kind, c.unit, ok, why, c.ok)
		}
	}
}

// TestOnVisibleRequest: dispatches are read only when a viewer's receiving
// rights differ by unit, and then decide.
func TestOnVisibleRequest(t *testing.T) {
	origin, unitA, unitB := uuid.New(), uuid.New(), uuid.New()
	scope := RequestScope{OriginStructure: origin}
	never := func() ([]uuid.UUID, error) { t.Fatal("dispatches read although not needed"); return nil, nil }

	doctor := &viewer.Viewer{Habilitations: []viewer.Habilitation{{Profile: enums.ProfileReceiverPhysician, UnitID: &unitA}},
		ReceivingUnits: []uuid.UUID{unitA}}
	if got, _ := OnVisibleRequest(doctor, scope, never); !got[ReadMedical] || !got[AnswerDispatch] {
		t.Errorf("a receiving physician: %v", got)
	}
	prescriber := &viewer.Viewer{Habilitations: []viewer.Habilitation{{Profile: enums.ProfilePrescriberPhysician, StructureID: origin}}}
	if got, _ := OnVisibleRequest(prescriber, scope, never); !got[ValidateMedical] || got[AnswerDispatch] {
		t.Errorf("a prescriber: %v", got)
	}
	// Physician in unit A, staff in unit B: the request was sent to B only.
	mixed := &viewer.Viewer{Habilitations: []viewer.Habilitation{
		{Profile: enums.ProfileReceiverPhysician, UnitID: &unitA},
		{Profile: enums.ProfileReceiverStaff, UnitID: &unitB},
	}, ReceivingUnits: []uuid.UUID{unitA, unitB}}
	read := false
	got, err := OnVisibleRequest(mixed, scope, func() ([]uuid.UUID, error) { read = true; return []uuid.UUID{unitB}, nil })
	if err != nil || !read || got[ReadMedical] || !got[OpenDispatch] {
		t.Errorf("mixed receiver (sent to B only): read=%v %v %v", read, got, err)
	}
}

func TestAnyProfileAllows(t *testing.T) {
	hab := func(p enums.Profile) viewer.Habilitation { return viewer.Habilitation{Profile: p} }
	admin := &viewer.Viewer{Habilitations: []viewer.Habilitation{hab(enums.ProfileAdminSocialManager)}}
	if AnyProfileAllows(admin, ReadMedical) || !AnyProfileAllows(admin, ReadAdminSocial) {
		t.Error("administrative manager: no medical section, the administrative one")
	}
	both := &viewer.Viewer{Habilitations: []viewer.Habilitation{hab(enums.ProfileReceiverStaff), hab(enums.ProfilePrescriberPhysician)}}
	if !AnyProfileAllows(both, ReadMedical) {
		t.Error("one profile reading the medical section is enough")
	}
	if AnyProfileAllows(nil, ReadAdminSocial) || AnyProfileAllows(&viewer.Viewer{}, ReadAdminSocial) {
		t.Error("no viewer, no habilitation: nothing")
	}
}
