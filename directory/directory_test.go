package directory_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/mattn/go-sqlite3"

	"passerelle/apperr"
	"passerelle/auth"
	"passerelle/demo"
	"passerelle/directory"
	"passerelle/ent"
	"passerelle/ent/enttest"
	"passerelle/ent/habilitation"
	"passerelle/ent/migrate"
	_ "passerelle/ent/runtime"
	"passerelle/ent/structure"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/viewer"
)

const day = 24 * time.Hour

var dbSeq atomic.Int64

// env is one in-memory database with the directory fixtures.
type env struct {
	t      *testing.T
	client *ent.Client
	auth   *auth.Service
	svc    *directory.Service
	clock  time.Time
	sys    context.Context

	mcoA, mcoB, dacA, libA, supportS, authS *ent.Structure
	wardA, uspA, wardB, uspB                *ent.Unit
	// unitOf is the unit the matrix acts on, per structure.
	unitOf map[uuid.UUID]*ent.Unit
	// grantable is a profile that fits each structure.
	grantable map[uuid.UUID]enums.Profile

	seq int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	name := fmt.Sprintf("directory_%d_%s", dbSeq.Add(1), uuid.NewString())
	client := enttest.Open(t, "sqlite3", "file:"+name+"?mode=memory&cache=shared&_fk=1",
		enttest.WithMigrateOptions(migrate.WithForeignKeys(true)))
	t.Cleanup(func() { _ = client.Close() })
	e := &env{t: t, client: client, clock: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
		sys: viewer.System(context.Background()), unitOf: map[uuid.UUID]*ent.Unit{}, grantable: map[uuid.UUID]enums.Profile{}}
	now := func() time.Time { return e.clock }
	e.auth = auth.NewService(client, auth.Config{Now: now})
	e.svc = directory.NewService(client, e.auth, directory.Config{Now: now})

	e.mcoA = e.structure("CH Alpha", enums.StructureKindMco)
	e.mcoB = e.structure("CH Bravo", enums.StructureKindMco)
	e.dacA = e.structure("DAC Alpha", enums.StructureKindDac)
	e.libA = e.structure("Cabinet Alpha", enums.StructureKindLiberalPractice)
	e.supportS = e.structure("Support Alpha", enums.StructureKindRegionalSupport)
	e.authS = e.structure("Agence Alpha", enums.StructureKindAuthority)

	e.wardA = e.unit(e.mcoA, "Médecine A", enums.UnitKindWard, nil)
	e.uspA = e.unit(e.mcoA, "USP A", enums.UnitKindUsp, ptr(10))
	e.wardB = e.unit(e.mcoB, "Médecine B", enums.UnitKindWard, nil)
	e.uspB = e.unit(e.mcoB, "USP B", enums.UnitKindUsp, ptr(10))
	e.unitOf[e.mcoA.ID], e.unitOf[e.mcoB.ID] = e.uspA, e.uspB
	e.unitOf[e.dacA.ID] = e.unit(e.dacA, "DAC unité", enums.UnitKindDac, nil)
	e.unitOf[e.libA.ID] = e.unit(e.libA, "Cabinet", enums.UnitKindPractice, nil)
	e.unitOf[e.supportS.ID] = e.unit(e.supportS, "Équipe support", enums.UnitKindOther, nil)
	e.unitOf[e.authS.ID] = e.unit(e.authS, "Observatoire", enums.UnitKindOther, nil)
	e.grantable[e.mcoA.ID], e.grantable[e.mcoB.ID] = enums.ProfileCareTeam, enums.ProfileCareTeam
	e.grantable[e.dacA.ID] = enums.ProfileNonMedicalManager
	e.grantable[e.libA.ID] = enums.ProfileLiberalPhysician
	e.grantable[e.supportS.ID] = enums.ProfileRegionalSupport
	e.grantable[e.authS.ID] = enums.ProfileObserver
	return e
}

func ptr[T any](v T) *T { return &v }

func (e *env) next() int { e.seq++; return e.seq }

// finess returns a fresh valid FINESS number.
func (e *env) finess() string {
	first8 := fmt.Sprintf("93%06d", e.next())
	d, err := identity.FINESSCheckDigit(first8)
	if err != nil {
		e.t.Fatal(err)
	}
	return first8 + string(d)
}

func (e *env) structure(name string, kind enums.StructureKind) *ent.Structure {
	e.t.Helper()
	s, err := e.client.Structure.Create().SetFiness(e.finess()).SetName(name).SetKind(kind).SetDepartment("93").Save(e.sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) unit(s *ent.Structure, name string, kind enums.UnitKind, capacity *int) *ent.Unit {
	e.t.Helper()
	u, err := e.client.Unit.Create().SetStructureID(s.ID).SetName(name).SetKind(kind).SetNillableCapacity(capacity).Save(e.sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) user(first, last string) *ent.User {
	e.t.Helper()
	n := e.next()
	u, err := e.client.User.Create().SetEmail(fmt.Sprintf("u%d@test.example.fr", n)).
		SetFirstName(first).SetLastName(last).Save(e.sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// hab grants a profile with the system (fixture), valid from yesterday for 180 days.
func (e *env) hab(u *ent.User, s *ent.Structure, unitID *uuid.UUID, p enums.Profile) *ent.Habilitation {
	e.t.Helper()
	return e.habPeriod(u, s, unitID, p, e.clock.Add(-day), e.clock.Add(180*day))
}

func (e *env) habPeriod(u *ent.User, s *ent.Structure, unitID *uuid.UUID, p enums.Profile, from, until time.Time) *ent.Habilitation {
	e.t.Helper()
	h, err := e.client.Habilitation.Create().SetUserID(u.ID).SetStructureID(s.ID).SetNillableUnitID(unitID).
		SetProfile(p).SetValidFrom(from).SetValidUntil(until).Save(e.sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// viewerFor builds, by hand, the viewer of a new user holding profile p on
// structure s (receivers: on the USP unit uspA when s is mcoA, else on the
// given unit). The habilitation also exists in the database.
func (e *env) viewerFor(p enums.Profile, s *ent.Structure, unitID *uuid.UUID) (context.Context, *viewer.Viewer) {
	e.t.Helper()
	u := e.user("Viewer", string(p))
	h := e.hab(u, s, unitID, p)
	v := &viewer.Viewer{UserID: u.ID, Email: u.Email, Habilitations: []viewer.Habilitation{{
		ID: h.ID, Profile: p, StructureID: s.ID, StructureKind: s.Kind, UnitID: unitID, ValidUntil: h.ValidUntil,
	}}}
	if (p == enums.ProfileReceiverPhysician || p == enums.ProfileReceiverStaff) && unitID != nil {
		v.ReceivingUnits = []uuid.UUID{*unitID}
	}
	return viewer.NewContext(context.Background(), v), v
}

// ownOf is the structure each profile is granted on in the matrix.
func (e *env) ownOf(p enums.Profile) (*ent.Structure, *uuid.UUID) {
	switch p {
	case enums.ProfileReceiverPhysician, enums.ProfileReceiverStaff:
		return e.mcoA, &e.uspA.ID
	case enums.ProfileCoordinatingPhysician, enums.ProfileNonMedicalManager, enums.ProfileSocialOrgReferent:
		return e.dacA, nil
	case enums.ProfileLiberalPhysician:
		return e.libA, nil
	case enums.ProfileRegionalSupport:
		return e.supportS, nil
	case enums.ProfileObserver:
		return e.authS, nil
	default:
		return e.mcoA, nil
	}
}

func code(err error) apperr.Code {
	if err == nil {
		return ""
	}
	return apperr.From(err).Code
}

func wantCode(t *testing.T, err error, want apperr.Code) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("error = %v (code %q), want code %q", err, got, want)
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	ae := apperr.From(err)
	if ae == nil || ae.Code != apperr.BadUserInput || ae.Field != field {
		t.Fatalf("error = %v (%+v), want BAD_USER_INPUT on %q", err, ae, field)
	}
}

// --- the matrix -----------------------------------------------------------

type operation struct {
	name string
	// kind: "create" (structure creation), "sheets", "accounts", "availability".
	kind string
	run  func(e *env, ctx context.Context, target *ent.Structure) error
}

var operations = []operation{
	{"CreateStructure", "create", func(e *env, ctx context.Context, _ *ent.Structure) error {
		_, err := e.svc.CreateStructure(ctx, directory.StructureInput{Finess: e.finess(), Name: "Nouvelle structure",
			Kind: enums.StructureKindSmr, Department: "77"})
		return err
	}},
	{"UpdateStructure", "sheets", func(e *env, ctx context.Context, s *ent.Structure) error {
		_, err := e.svc.UpdateStructure(ctx, s.ID, directory.StructurePatch{Phone: ptr("01 00 00 00 00")})
		return err
	}},
	{"CreateUnit", "sheets", func(e *env, ctx context.Context, s *ent.Structure) error {
		_, err := e.svc.CreateUnit(ctx, directory.UnitInput{StructureID: s.ID, Name: "Nouvelle unité", Kind: enums.UnitKindOther})
		return err
	}},
	{"UpdateUnit", "sheets", func(e *env, ctx context.Context, s *ent.Structure) error {
		_, err := e.svc.UpdateUnit(ctx, e.unitOf[s.ID].ID, directory.UnitPatch{AdmissionHours: ptr("7j/7")})
		return err
	}},
	{"UpdateAvailability", "availability", func(e *env, ctx context.Context, s *ent.Structure) error {
		u := e.unitOf[s.ID]
		var err error
		if u.Kind == enums.UnitKindUsp {
			_, err = e.svc.UpdateAvailability(ctx, u.ID, ptr(3), ptr(true))
		} else {
			_, err = e.svc.UpdateAvailability(ctx, u.ID, nil, ptr(false))
		}
		return err
	}},
	{"CreateUser", "accounts", func(e *env, ctx context.Context, s *ent.Structure) error {
		_, err := e.svc.CreateUser(ctx, directory.UserInput{
			Email: fmt.Sprintf("new%d@test.example.fr", e.next()), FirstName: "Nouveau", LastName: "Compte",
			Habilitation: &directory.GrantInput{StructureID: s.ID, Profile: e.grantable[s.ID], ValidUntil: e.clock.Add(90 * day)},
		})
		return err
	}},
	{"Grant", "accounts", func(e *env, ctx context.Context, s *ent.Structure) error {
		u := e.user("Bénéficiaire", "Grant")
		e.hab(u, s, nil, e.grantable[s.ID])
		_, err := e.svc.Grant(ctx, directory.GrantInput{UserID: u.ID, StructureID: s.ID, Profile: e.grantable[s.ID],
			ValidUntil: e.clock.Add(90 * day)})
		return err
	}},
	{"Revoke", "accounts", func(e *env, ctx context.Context, s *ent.Structure) error {
		h := e.hab(e.user("Révoqué", "Revoke"), s, nil, e.grantable[s.ID])
		_, err := e.svc.Revoke(ctx, h.ID)
		return err
	}},
	{"DisableUser", "accounts", func(e *env, ctx context.Context, s *ent.Structure) error {
		u := e.user("Désactivé", "Disable")
		e.hab(u, s, nil, e.grantable[s.ID])
		_, err := e.svc.DisableUser(ctx, u.ID)
		return err
	}},
	{"IssuePasswordReset", "accounts", func(e *env, ctx context.Context, s *ent.Structure) error {
		u := e.user("Oublieux", "Reset")
		e.hab(u, s, nil, e.grantable[s.ID])
		tok, _, err := e.svc.IssuePasswordReset(ctx, u.ID)
		if err == nil && tok == "" {
			return fmt.Errorf("empty token")
		}
		return err
	}},
	{"SearchUsers", "accounts", func(e *env, ctx context.Context, s *ent.Structure) error {
		_, err := e.svc.SearchUsers(ctx, s.ID, "")
		return err
	}},
	{"Staffing", "accounts", func(e *env, ctx context.Context, s *ent.Structure) error {
		_, err := e.svc.Staffing(ctx, s.ID)
		return err
	}},
	{"ExpiringHabilitations", "accounts", func(e *env, ctx context.Context, s *ent.Structure) error {
		_, err := e.svc.ExpiringHabilitations(ctx, s.ID)
		return err
	}},
}

// expected is the rule of the issue, written out independently of authz.
func expected(kind string, p enums.Profile, own bool) apperr.Code {
	referent := p == enums.ProfileStructureReferent || p == enums.ProfileSocialOrgReferent
	receiver := p == enums.ProfileReceiverPhysician || p == enums.ProfileReceiverStaff
	support := p == enums.ProfileRegionalSupport
	ownOrHidden := func() apperr.Code {
		if own {
			return ""
		}
		return apperr.NotFound
	}
	switch kind {
	case "create":
		if support {
			return ""
		}
	case "sheets", "accounts":
		if support {
			return ""
		}
		if referent {
			return ownOrHidden()
		}
	case "availability":
		if referent || receiver {
			return ownOrHidden()
		}
	}
	return apperr.Forbidden
}

func TestPermissionMatrix(t *testing.T) {
	e := newEnv(t)
	if len(enums.ProfileValues) != 12 {
		t.Fatalf("%d profiles, the matrix expects 12", len(enums.ProfileValues))
	}
	for _, op := range operations {
		for _, p := range enums.ProfileValues {
			for _, own := range []bool{true, false} {
				where := "other"
				if own {
					where = "own"
				}
				t.Run(op.name+"/"+string(p)+"/"+where, func(t *testing.T) {
					e.t = t
					home, unitID := e.ownOf(p)
					ctx, _ := e.viewerFor(p, home, unitID)
					target := e.mcoB
					if own {
						target = home
					}
					err := op.run(e, ctx, target)
					if want := expected(op.kind, p, own); code(err) != want {
						t.Errorf("%s by %s on %s structure: error %v (code %q), want %q", op.name, p, where, err, code(err), want)
					}
				})
			}
		}
	}
	e.t = t
}

func TestUnauthenticatedAndExpiredPassword(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.UpdateStructure(context.Background(), e.mcoA.ID, directory.StructurePatch{})
	wantCode(t, err, apperr.Unauthenticated)
	ctx, v := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil)
	v.PasswordExpired = true
	_, err = e.svc.UpdateStructure(ctx, e.mcoA.ID, directory.StructurePatch{})
	wantCode(t, err, apperr.PasswordExpired)
}

// --- structures and units ---------------------------------------------------

func TestCreateStructureValidation(t *testing.T) {
	e := newEnv(t)
	ctx, _ := e.viewerFor(enums.ProfileRegionalSupport, e.supportS, nil)
	valid := func() directory.StructureInput {
		return directory.StructureInput{Finess: e.finess(), Name: "Hôpital X", Kind: enums.StructureKindMco, Department: "75"}
	}

	in := valid()
	in.Finess = in.Finess[:8] + string('0'+(in.Finess[8]-'0'+1)%10)
	_, err := e.svc.CreateStructure(ctx, in)
	wantField(t, err, "input.finess")
	if !strings.Contains(apperr.From(err).Message, "check digit") {
		t.Errorf("message %q does not explain the check digit", apperr.From(err).Message)
	}
	for _, bad := range []string{"", "12345", "AB0000000", "1234567890"} {
		in := valid()
		in.Finess = bad
		_, err := e.svc.CreateStructure(ctx, in)
		wantField(t, err, "input.finess")
	}
	in = valid()
	in.Email = ptr("pas-une-adresse")
	_, err = e.svc.CreateStructure(ctx, in)
	wantField(t, err, "input.email")
	in = valid()
	in.Department = "7"
	_, err = e.svc.CreateStructure(ctx, in)
	wantField(t, err, "input.department")
	in = valid()
	in.Name = "  "
	_, err = e.svc.CreateStructure(ctx, in)
	wantField(t, err, "input.name")
	in = valid()
	in.Kind = "HOSPITAL"
	_, err = e.svc.CreateStructure(ctx, in)
	wantField(t, err, "input.kind")

	// Spaced FINESS is normalized; e-mail lower-cased.
	in = valid()
	f := in.Finess
	in.Finess = f[:2] + " " + f[2:5] + " " + f[5:8] + " " + f[8:]
	in.Email = ptr(" Accueil@Hopital-X.FR ")
	s, err := e.svc.CreateStructure(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if s.Finess != f || s.Email != "accueil@hopital-x.fr" || s.Department != "75" {
		t.Errorf("created %+v", s)
	}
	// Duplicate FINESS → CONFLICT.
	in = valid()
	in.Finess = f
	_, err = e.svc.CreateStructure(ctx, in)
	wantCode(t, err, apperr.Conflict)
	// Corsica.
	in = valid()
	in.Department = "2a"
	s, err = e.svc.CreateStructure(ctx, in)
	if err != nil || s.Department != "2A" {
		t.Fatalf("Corsica: %v, %v", s, err)
	}
}

func TestUpdateSheets(t *testing.T) {
	e := newEnv(t)
	ctx, _ := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil)
	s, err := e.svc.UpdateStructure(ctx, e.mcoA.ID, directory.StructurePatch{
		Name: ptr(" CH Alpha Nord "), City: ptr("Bobigny"), PostalCode: ptr("93000"), Email: ptr("Contact@CH-Alpha.fr")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "CH Alpha Nord" || s.City != "Bobigny" || s.Email != "contact@ch-alpha.fr" || s.Kind != enums.StructureKindMco {
		t.Errorf("updated %+v", s)
	}
	s, err = e.svc.UpdateStructure(ctx, e.mcoA.ID, directory.StructurePatch{City: ptr("")})
	if err != nil || s.City != "" || s.Name != "CH Alpha Nord" {
		t.Fatalf("clear city: %+v, %v", s, err)
	}
	_, err = e.svc.UpdateStructure(ctx, e.mcoA.ID, directory.StructurePatch{Name: ptr("")})
	wantField(t, err, "input.name")
	_, err = e.svc.UpdateStructure(ctx, e.mcoA.ID, directory.StructurePatch{PostalCode: ptr("9300")})
	wantField(t, err, "input.postalCode")
	_, err = e.svc.UpdateStructure(ctx, e.mcoA.ID, directory.StructurePatch{Email: ptr("x@")})
	wantField(t, err, "input.email")
	_, err = e.svc.UpdateStructure(ctx, uuid.New(), directory.StructurePatch{})
	wantCode(t, err, apperr.NotFound)
	// Bad input on another structure: NOT_FOUND first.
	_, err = e.svc.UpdateStructure(ctx, e.mcoB.ID, directory.StructurePatch{Email: ptr("x@")})
	wantCode(t, err, apperr.NotFound)

	// Units.
	u, err := e.svc.CreateUnit(ctx, directory.UnitInput{StructureID: e.mcoA.ID, Name: "USP 2", Kind: enums.UnitKindUsp,
		Capacity: ptr(12), AcceptingRequests: ptr(true), AdmissionCriteria: ptr("PPS ≤ 50")})
	if err != nil {
		t.Fatal(err)
	}
	if u.StructureID != e.mcoA.ID || !u.AcceptingRequests || *u.Capacity != 12 || u.AdmissionCriteria != "PPS ≤ 50" {
		t.Errorf("unit %+v", u)
	}
	_, err = e.svc.CreateUnit(ctx, directory.UnitInput{StructureID: e.mcoA.ID, Name: "Ortho", Kind: enums.UnitKindWard,
		AcceptingRequests: ptr(true)})
	wantField(t, err, "input.acceptingRequests")
	_, err = e.svc.CreateUnit(ctx, directory.UnitInput{StructureID: e.mcoA.ID, Name: "Ortho", Kind: enums.UnitKindWard, Capacity: ptr(-1)})
	wantField(t, err, "input.capacity")
	_, err = e.svc.CreateUnit(ctx, directory.UnitInput{StructureID: uuid.New(), Name: "Ortho", Kind: enums.UnitKindWard})
	wantCode(t, err, apperr.NotFound)

	if _, err := e.svc.UpdateAvailability(ctx, u.ID, ptr(8), nil); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.UpdateUnit(ctx, u.ID, directory.UnitPatch{Capacity: ptr(5)})
	wantField(t, err, "input.capacity")
	u, err = e.svc.UpdateUnit(ctx, u.ID, directory.UnitPatch{Capacity: ptr(9), Name: ptr("USP Alpha 2"), AdmissionCriteria: ptr("")})
	if err != nil || *u.Capacity != 9 || u.Name != "USP Alpha 2" || u.AdmissionCriteria != "" {
		t.Fatalf("update unit: %+v, %v", u, err)
	}
	_, err = e.svc.UpdateUnit(ctx, uuid.New(), directory.UnitPatch{})
	wantCode(t, err, apperr.NotFound)
	_, err = e.svc.UpdateUnit(ctx, e.uspB.ID, directory.UnitPatch{Name: ptr("")})
	wantCode(t, err, apperr.NotFound)
}

func TestAvailability(t *testing.T) {
	e := newEnv(t)
	rctx, rv := e.viewerFor(enums.ProfileReceiverStaff, e.mcoA, &e.uspA.ID)
	e.clock = e.clock.Add(time.Hour)
	u, err := e.svc.UpdateAvailability(rctx, e.uspA.ID, ptr(4), ptr(true))
	if err != nil {
		t.Fatal(err)
	}
	if *u.AvailableBeds != 4 || !u.AcceptingRequests || u.AvailableBedsUpdatedBy == nil ||
		*u.AvailableBedsUpdatedBy != rv.UserID || !u.AvailableBedsUpdatedAt.Equal(e.clock) {
		t.Errorf("availability not recorded with who and when: %+v", u)
	}
	stored, err := e.client.Unit.Get(e.sys, e.uspA.ID)
	if err != nil || *stored.AvailableBeds != 4 || *stored.AvailableBedsUpdatedBy != rv.UserID {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	// A receiver of another unit: NOT_FOUND.
	_, err = e.svc.UpdateAvailability(rctx, e.uspB.ID, ptr(1), nil)
	wantCode(t, err, apperr.NotFound)
	_, err = e.svc.UpdateAvailability(rctx, uuid.New(), ptr(1), nil)
	wantCode(t, err, apperr.NotFound)
	// Holding the habilitation but no longer resolved as receiving (e.g.
	// the unit left the grant): NOT_FOUND.
	rv.ReceivingUnits = nil
	_, err = e.svc.UpdateAvailability(rctx, e.uspA.ID, ptr(1), nil)
	wantCode(t, err, apperr.NotFound)
	rv.ReceivingUnits = []uuid.UUID{e.uspA.ID}

	_, err = e.svc.UpdateAvailability(rctx, e.uspA.ID, ptr(11), nil)
	wantField(t, err, "availableBeds")
	_, err = e.svc.UpdateAvailability(rctx, e.uspA.ID, ptr(-1), nil)
	wantField(t, err, "availableBeds")
	_, err = e.svc.UpdateAvailability(rctx, e.uspA.ID, nil, nil)
	wantField(t, err, "availableBeds")
	if u, err = e.svc.UpdateAvailability(rctx, e.uspA.ID, ptr(10), ptr(false)); err != nil || *u.AvailableBeds != 10 || u.AcceptingRequests {
		t.Fatalf("at capacity: %+v, %v", u, err)
	}

	// Structure-wide receiver of a USP structure.
	uspS := e.structure("Maison USP", enums.StructureKindUsp)
	uspS1 := e.unit(uspS, "USP S1", enums.UnitKindUsp, nil)
	wctx, wv := e.viewerFor(enums.ProfileReceiverPhysician, uspS, nil)
	wv.ReceivingUnits = []uuid.UUID{uspS1.ID}
	if u, err = e.svc.UpdateAvailability(wctx, uspS1.ID, ptr(25), nil); err != nil || *u.AvailableBeds != 25 {
		t.Fatalf("structure-wide receiver, unknown capacity: %+v, %v", u, err)
	}
	_, err = e.svc.UpdateAvailability(wctx, e.uspA.ID, ptr(1), nil)
	wantCode(t, err, apperr.NotFound)

	// The referent of the structure; only USP units take beds or requests.
	fctx, fv := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil)
	if u, err = e.svc.UpdateAvailability(fctx, e.uspA.ID, ptr(2), nil); err != nil || *u.AvailableBedsUpdatedBy != fv.UserID {
		t.Fatalf("referent: %+v, %v", u, err)
	}
	_, err = e.svc.UpdateAvailability(fctx, e.wardA.ID, nil, ptr(true))
	wantField(t, err, "acceptingRequests")
	_, err = e.svc.UpdateAvailability(fctx, e.wardA.ID, ptr(2), nil)
	wantField(t, err, "availableBeds")

	// A requesting profile: FORBIDDEN; regional support has no availability right.
	pctx, _ := e.viewerFor(enums.ProfilePrescriberPhysician, e.mcoA, nil)
	_, err = e.svc.UpdateAvailability(pctx, e.uspA.ID, ptr(1), nil)
	wantCode(t, err, apperr.Forbidden)
}

// --- accounts and habilitations ---------------------------------------------

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	ctx, rv := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil)
	rppsFirst := "1000000000"
	d, _ := identity.RPPSCheckDigit(rppsFirst)
	rpps := rppsFirst + string(d)
	grant := func() *directory.GrantInput {
		return &directory.GrantInput{StructureID: e.mcoA.ID, Profile: enums.ProfilePrescriberPhysician, ValidUntil: e.clock.Add(200 * day)}
	}

	acc, err := e.svc.CreateUser(ctx, directory.UserInput{Email: " Claire.Martin@CH-Alpha.FR ", FirstName: "Claire", LastName: "Martin",
		RPPS: ptr(rpps[:3] + " " + rpps[3:]), Profession: ptr("Médecin"), Habilitation: grant()})
	if err != nil {
		t.Fatal(err)
	}
	if acc.User.Email != "claire.martin@ch-alpha.fr" || acc.User.Rpps == nil || *acc.User.Rpps != rpps {
		t.Errorf("user %+v", acc.User)
	}
	if acc.SetupToken == "" || !acc.SetupTokenExpiresAt.After(e.clock) || acc.User.PasswordHash != "" {
		t.Errorf("account must come with a set-up token and no password: %+v", acc)
	}
	habs, err := e.client.Habilitation.Query().Where(habilitation.UserID(acc.User.ID)).All(e.sys)
	if err != nil || len(habs) != 1 {
		t.Fatalf("habilitations %v, %v", habs, err)
	}
	h := habs[0]
	if h.Profile != enums.ProfilePrescriberPhysician || h.StructureID != e.mcoA.ID || !h.ValidFrom.Equal(e.clock) ||
		h.GrantedBy == nil || *h.GrantedBy != rv.UserID || h.EmailNotifications {
		t.Errorf("habilitation %+v", h)
	}
	// The set-up token lets the new user choose a password and sign in.
	sess, err := e.auth.SetupPassword(context.Background(), acc.SetupToken, "Tournesol-Velo-Marron-42", "192.0.2.1")
	if err != nil {
		t.Fatalf("SetupPassword: %v", err)
	}
	if len(sess.Viewer.Habilitations) != 1 {
		t.Errorf("viewer %+v", sess.Viewer)
	}

	// Duplicate e-mail, whatever the case, even when the other account is
	// invisible to the referent (no habilitation).
	e.client.User.Create().SetEmail("hidden@test.example.fr").SetFirstName("H").SetLastName("H").SaveX(e.sys)
	for _, dup := range []string{"CLAIRE.martin@ch-alpha.fr", "Hidden@Test.Example.FR"} {
		_, err = e.svc.CreateUser(ctx, directory.UserInput{Email: dup, FirstName: "C", LastName: "M", Habilitation: grant()})
		wantCode(t, err, apperr.Conflict)
	}

	_, err = e.svc.CreateUser(ctx, directory.UserInput{Email: "claire@", FirstName: "C", LastName: "M", Habilitation: grant()})
	wantField(t, err, "input.email")
	bad := rpps[:10] + string('0'+(rpps[10]-'0'+1)%10)
	for _, r := range []string{bad, "123", "1000000000A"} {
		_, err = e.svc.CreateUser(ctx, directory.UserInput{Email: "r@test.example.fr", FirstName: "C", LastName: "M", RPPS: ptr(r), Habilitation: grant()})
		wantField(t, err, "input.rpps")
	}
	_, err = e.svc.CreateUser(ctx, directory.UserInput{Email: "n@test.example.fr", FirstName: "", LastName: "M", Habilitation: grant()})
	wantField(t, err, "input.firstName")

	// A referent must give a habilitation on their structure.
	_, err = e.svc.CreateUser(ctx, directory.UserInput{Email: "nohab@test.example.fr", FirstName: "N", LastName: "H"})
	wantField(t, err, "input.habilitation")
	other := grant()
	other.StructureID = e.mcoB.ID
	_, err = e.svc.CreateUser(ctx, directory.UserInput{Email: "other@test.example.fr", FirstName: "O", LastName: "S", Habilitation: other})
	wantCode(t, err, apperr.NotFound)

	// A profile that does not fit: nothing is created.
	misfit := grant()
	misfit.Profile, misfit.UnitID = enums.ProfileReceiverPhysician, &e.wardA.ID
	_, err = e.svc.CreateUser(ctx, directory.UserInput{Email: "misfit@test.example.fr", FirstName: "M", LastName: "F", Habilitation: misfit})
	wantField(t, err, "input.habilitation.profile")
	long := grant()
	long.ValidUntil = e.clock.Add(400 * day)
	_, err = e.svc.CreateUser(ctx, directory.UserInput{Email: "misfit@test.example.fr", FirstName: "M", LastName: "F", Habilitation: long})
	wantField(t, err, "input.habilitation.validUntil")
	if n := e.client.User.Query().Where(user.Email("misfit@test.example.fr")).CountX(e.sys); n != 0 {
		t.Errorf("a failed createUser left %d account(s)", n)
	}

	// Regional support may create an account without a habilitation.
	sctx, _ := e.viewerFor(enums.ProfileRegionalSupport, e.supportS, nil)
	acc, err = e.svc.CreateUser(sctx, directory.UserInput{Email: "referent@ch-bravo.fr", FirstName: "R", LastName: "B"})
	if err != nil || acc.SetupToken == "" {
		t.Fatalf("support without habilitation: %v", err)
	}
}

func TestGrantRules(t *testing.T) {
	e := newEnv(t)
	ctx, rv := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil)
	grantee := e.user("Paul", "Durand")
	e.hab(grantee, e.mcoB, nil, enums.ProfileCareTeam) // visible: holds a habilitation
	base := func() directory.GrantInput {
		return directory.GrantInput{UserID: grantee.ID, StructureID: e.mcoA.ID, Profile: enums.ProfileCareTeam,
			ValidUntil: e.clock.Add(30 * day)}
	}
	cases := []struct {
		name  string
		edit  func(*directory.GrantInput)
		code  apperr.Code
		field string
	}{
		{"fits", func(*directory.GrantInput) {}, "", ""},
		{"receiver on a USP unit", func(g *directory.GrantInput) {
			g.Profile, g.UnitID = enums.ProfileReceiverPhysician, &e.uspA.ID
		}, "", ""},
		{"receiver on an MCO ward", func(g *directory.GrantInput) {
			g.Profile, g.UnitID = enums.ProfileReceiverPhysician, &e.wardA.ID
		}, apperr.BadUserInput, "input.profile"},
		{"receiver on an MCO structure without unit", func(g *directory.GrantInput) { g.Profile = enums.ProfileReceiverStaff },
			apperr.BadUserInput, "input.profile"},
		{"coordinating physician on MCO", func(g *directory.GrantInput) { g.Profile = enums.ProfileCoordinatingPhysician },
			apperr.BadUserInput, "input.profile"},
		{"social org referent on MCO", func(g *directory.GrantInput) { g.Profile = enums.ProfileSocialOrgReferent },
			apperr.BadUserInput, "input.profile"},
		{"regional support on MCO", func(g *directory.GrantInput) { g.Profile = enums.ProfileRegionalSupport },
			apperr.BadUserInput, "input.profile"},
		{"unknown profile", func(g *directory.GrantInput) { g.Profile = "KING" }, apperr.BadUserInput, "input.profile"},
		{"unit of another structure", func(g *directory.GrantInput) { g.UnitID = &e.wardB.ID }, apperr.BadUserInput, "input.unitId"},
		{"unknown unit", func(g *directory.GrantInput) { g.UnitID = ptr(uuid.New()) }, apperr.NotFound, ""},
		{"unknown structure", func(g *directory.GrantInput) { g.StructureID = uuid.New() }, apperr.NotFound, ""},
		{"other structure", func(g *directory.GrantInput) { g.StructureID = e.mcoB.ID }, apperr.NotFound, ""},
		{"unknown user", func(g *directory.GrantInput) { g.UserID = uuid.New() }, apperr.NotFound, ""},
		{"beyond one year", func(g *directory.GrantInput) { g.ValidUntil = e.clock.Add(365*day + time.Second) },
			apperr.BadUserInput, "input.validUntil"},
		{"exactly one year", func(g *directory.GrantInput) { g.ValidUntil = e.clock.Add(365 * day) }, "", ""},
		{"no end date", func(g *directory.GrantInput) { g.ValidUntil = time.Time{} }, apperr.BadUserInput, "input.validUntil"},
		{"ends before it starts", func(g *directory.GrantInput) {
			g.ValidFrom, g.ValidUntil = ptr(e.clock.Add(10*day)), e.clock.Add(5*day)
		}, apperr.BadUserInput, "input.validUntil"},
		{"ends when it starts", func(g *directory.GrantInput) { g.ValidUntil = e.clock }, apperr.BadUserInput, "input.validUntil"},
		{"starts later", func(g *directory.GrantInput) { g.ValidFrom = ptr(e.clock.Add(10 * day)) }, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.edit(&in)
			h, err := e.svc.Grant(ctx, in)
			if c.field != "" {
				wantField(t, err, c.field)
				return
			}
			wantCode(t, err, c.code)
			if err == nil {
				from := e.clock
				if in.ValidFrom != nil {
					from = *in.ValidFrom
				}
				if h.UserID != grantee.ID || h.Profile != in.Profile || !h.ValidFrom.Equal(from) ||
					!h.ValidUntil.Equal(in.ValidUntil) || *h.GrantedBy != rv.UserID {
					t.Errorf("habilitation %+v", h)
				}
			}
		})
	}

	// An account the referent cannot see (no habilitation anywhere): NOT_FOUND;
	// regional support sees it.
	loner := e.user("Sans", "Habilitation")
	in := base()
	in.UserID = loner.ID
	_, err := e.svc.Grant(ctx, in)
	wantCode(t, err, apperr.NotFound)
	sctx, _ := e.viewerFor(enums.ProfileRegionalSupport, e.supportS, nil)
	if _, err := e.svc.Grant(sctx, in); err != nil {
		t.Fatalf("support grant: %v", err)
	}
	// Regional support fits profiles too.
	in.StructureID, in.Profile = e.dacA.ID, enums.ProfilePrescriberPhysician
	_, err = e.svc.Grant(sctx, in)
	wantField(t, err, "input.profile")

	// A disabled account: CONFLICT.
	e.client.User.UpdateOneID(grantee.ID).SetDisabled(true).ExecX(e.sys)
	_, err = e.svc.Grant(ctx, base())
	wantCode(t, err, apperr.Conflict)

	// The maximum is configurable.
	short := directory.NewService(e.client, e.auth, directory.Config{MaxHabilitationDuration: 30 * day, Now: func() time.Time { return e.clock }})
	in = base()
	in.UserID, in.ValidUntil = loner.ID, e.clock.Add(31*day)
	_, err = short.Grant(sctx, in)
	wantField(t, err, "input.validUntil")
	if got := directory.NewService(e.client, e.auth, directory.Config{}).Config().MaxHabilitationDuration; got != 365*day {
		t.Errorf("default maximum %v", got)
	}
}

func TestRevokeTakesEffectAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx, rv := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil)
	acc, err := e.svc.CreateUser(ctx, directory.UserInput{Email: "doc@ch-alpha.fr", FirstName: "Doc", LastName: "Teur",
		Habilitation: &directory.GrantInput{StructureID: e.mcoA.ID, Profile: enums.ProfilePrescriberPhysician, ValidUntil: e.clock.Add(10 * day)}})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.auth.SetupPassword(context.Background(), acc.SetupToken, "Tournesol-Velo-Marron-42", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.auth.Authenticate(context.Background(), sess.Token)
	if err != nil || len(v.Habilitations) != 1 {
		t.Fatalf("before revocation: %+v, %v", v, err)
	}
	h, err := e.svc.Revoke(ctx, v.Habilitations[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if h.RevokedAt == nil || !h.RevokedAt.Equal(e.clock) || h.RevokedBy == nil || *h.RevokedBy != rv.UserID {
		t.Errorf("revocation not recorded: %+v", h)
	}
	v, err = e.auth.Authenticate(context.Background(), sess.Token)
	if err != nil || len(v.Habilitations) != 0 {
		t.Fatalf("next request after revocation still has %+v, %v", v, err)
	}
	_, err = e.svc.Revoke(ctx, h.ID)
	wantCode(t, err, apperr.Conflict)
	_, err = e.svc.Revoke(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	// Expiry: a grant ending in 10 days gives nothing from then on.
	h2, err := e.svc.Grant(ctx, directory.GrantInput{UserID: acc.User.ID, StructureID: e.mcoA.ID, Profile: enums.ProfileCareTeam,
		ValidUntil: e.clock.Add(10 * day)})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ = e.auth.Authenticate(context.Background(), sess.Token); len(v.Habilitations) != 1 || v.Habilitations[0].ID != h2.ID {
		t.Fatalf("grant: %+v", v)
	}
	u, _ := e.client.User.Get(e.sys, acc.User.ID)
	e.clock = e.clock.Add(10 * day)
	v, err = e.auth.LoadViewer(context.Background(), u, uuid.Nil)
	if err != nil || len(v.Habilitations) != 0 {
		t.Fatalf("after expiry: %+v, %v", v, err)
	}
}

func TestDisableUserAndPasswordReset(t *testing.T) {
	e := newEnv(t)
	ctx, rv := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil)
	_, err := e.svc.DisableUser(ctx, rv.UserID)
	wantField(t, err, "userId")

	acc, err := e.svc.CreateUser(ctx, directory.UserInput{Email: "ide@ch-alpha.fr", FirstName: "Iris", LastName: "Dé",
		Habilitation: &directory.GrantInput{StructureID: e.mcoA.ID, Profile: enums.ProfileCareTeam, ValidUntil: e.clock.Add(10 * day)}})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.auth.SetupPassword(context.Background(), acc.SetupToken, "Tournesol-Velo-Marron-42", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}

	// Password reset: a new one-time token that works.
	tok, exp, err := e.svc.IssuePasswordReset(ctx, acc.User.ID)
	if err != nil || tok == "" || !exp.After(e.clock) {
		t.Fatalf("reset: %q %v %v", tok, exp, err)
	}
	if _, err := e.auth.SetupPassword(context.Background(), tok, "Autre-Phrase-Secrete-77", "192.0.2.1"); err != nil {
		t.Fatalf("reset token: %v", err)
	}
	// An account that also holds rights elsewhere: the referent may not take
	// it over with a reset token; regional support may.
	e.hab(acc.User, e.mcoB, nil, enums.ProfilePrescriberPhysician)
	_, _, err = e.svc.IssuePasswordReset(ctx, acc.User.ID)
	wantCode(t, err, apperr.Forbidden)
	sctx, _ := e.viewerFor(enums.ProfileRegionalSupport, e.supportS, nil)
	if _, _, err := e.svc.IssuePasswordReset(sctx, acc.User.ID); err != nil {
		t.Fatalf("support reset: %v", err)
	}
	_, _, err = e.svc.IssuePasswordReset(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	// Disable: flag, date, sessions ended.
	u, err := e.svc.DisableUser(ctx, acc.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Disabled || u.DisabledAt == nil || !u.DisabledAt.Equal(e.clock) {
		t.Errorf("disabled %+v", u)
	}
	_, err = e.auth.Authenticate(context.Background(), sess.Token)
	wantCode(t, err, apperr.Unauthenticated)
	_, err = e.svc.DisableUser(ctx, acc.User.ID)
	wantCode(t, err, apperr.Conflict)
	_, _, err = e.svc.IssuePasswordReset(sctx, acc.User.ID)
	wantCode(t, err, apperr.Conflict)
	_, err = e.svc.DisableUser(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	// A user whose only habilitation at mcoA was revoked is no longer the
	// referent's to disable.
	gone := e.user("Parti", "Ailleurs")
	h := e.hab(gone, e.mcoA, nil, enums.ProfileCareTeam)
	e.hab(gone, e.mcoB, nil, enums.ProfileCareTeam)
	if _, err := e.svc.Revoke(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.DisableUser(ctx, gone.ID)
	wantCode(t, err, apperr.NotFound)
}

func TestSearchUsers(t *testing.T) {
	e := newEnv(t)
	ctx, _ := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil) // last name STRUCTURE_REFERENT
	mk := func(first, last, email string, s *ent.Structure) *ent.User {
		u := e.client.User.Create().SetEmail(email).SetFirstName(first).SetLastName(last).SaveX(e.sys)
		e.hab(u, s, nil, enums.ProfileCareTeam)
		return u
	}
	elodie := mk("Élodie", "Dupont", "e.dupont@ch-alpha.fr", e.mcoA)
	marc := mk("Marc", "Durand", "secretariat@ch-alpha.fr", e.mcoA)
	claire := mk("Claire", "Arnaud", "claire.arnaud@ch-alpha.fr", e.mcoA)
	mk("Bruno", "Dupuis", "b.dupuis@ch-bravo.fr", e.mcoB)
	revoked := mk("Rémi", "Duval", "r.duval@ch-alpha.fr", e.mcoA)
	e.client.Habilitation.Update().Where(habilitation.UserID(revoked.ID)).SetRevokedAt(e.clock).ExecX(e.sys)

	ids := func(us []*ent.User) []uuid.UUID {
		var out []uuid.UUID
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	check := func(q string, want ...*ent.User) {
		t.Helper()
		got, err := e.svc.SearchUsers(ctx, e.mcoA.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), ids(want)) {
			var names []string
			for _, u := range got {
				names = append(names, u.LastName)
			}
			t.Errorf("search %q = %v", q, names)
		}
	}
	check("du", elodie, marc)
	check("ÉLODIE", elodie)
	check("elodie", elodie)
	check("SECRETARIAT@", marc)
	check("claire arnaud", claire)
	check("zzz")
	all, err := e.svc.SearchUsers(ctx, e.mcoA.ID, "  ")
	if err != nil {
		t.Fatal(err)
	}
	var last []string
	for _, u := range all {
		last = append(last, u.LastName)
	}
	if !slices.Equal(last, []string{"Arnaud", "Dupont", "Durand", "STRUCTURE_REFERENT"}) {
		t.Errorf("all users in order = %v", last)
	}
	_, err = e.svc.SearchUsers(ctx, e.mcoB.ID, "")
	wantCode(t, err, apperr.NotFound)
	_, err = e.svc.SearchUsers(ctx, uuid.New(), "")
	wantCode(t, err, apperr.NotFound)

	// At most 100 results.
	for i := range 105 {
		mk("P", fmt.Sprintf("Zed%03d", i), fmt.Sprintf("p%d@ch-alpha.fr", i), e.mcoA)
	}
	all, err = e.svc.SearchUsers(ctx, e.mcoA.ID, "")
	if err != nil || len(all) != 100 {
		t.Fatalf("%d results, %v", len(all), err)
	}
}

func TestStaffing(t *testing.T) {
	e := newEnv(t)
	ctx, _ := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil) // 1 referent
	p1, p2 := e.user("P", "Un"), e.user("P", "Deux")
	e.hab(p1, e.mcoA, nil, enums.ProfilePrescriberPhysician)
	e.hab(p1, e.mcoA, &e.wardA.ID, enums.ProfilePrescriberPhysician) // same person twice
	e.hab(p2, e.mcoA, nil, enums.ProfilePrescriberPhysician)
	e.hab(e.user("C", "Valide"), e.mcoA, nil, enums.ProfileCareTeam)
	e.habPeriod(e.user("C", "Expiré"), e.mcoA, nil, enums.ProfileCareTeam, e.clock.Add(-10*day), e.clock)
	e.habPeriod(e.user("C", "Futur"), e.mcoA, nil, enums.ProfileCareTeam, e.clock.Add(time.Minute), e.clock.Add(10*day))
	revoked := e.hab(e.user("C", "Révoqué"), e.mcoA, nil, enums.ProfileCareTeam)
	e.client.Habilitation.UpdateOneID(revoked.ID).SetRevokedAt(e.clock).ExecX(e.sys)
	disabled := e.user("C", "Désactivé")
	e.hab(disabled, e.mcoA, nil, enums.ProfileCareTeam)
	e.client.User.UpdateOneID(disabled.ID).SetDisabled(true).ExecX(e.sys)
	e.hab(e.user("R", "Un"), e.mcoA, &e.uspA.ID, enums.ProfileReceiverPhysician)
	e.hab(e.user("R", "Deux"), e.mcoA, &e.uspA.ID, enums.ProfileReceiverPhysician)
	e.hab(e.user("Ailleurs", "B"), e.mcoB, nil, enums.ProfileAdminSocialManager)

	got, err := e.svc.Staffing(ctx, e.mcoA.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []directory.Headcount{
		{Profile: enums.ProfilePrescriberPhysician, Holders: 2},
		{Profile: enums.ProfileCareTeam, Holders: 1, Understaffed: true},
		{Profile: enums.ProfileAdminSocialManager, Holders: 0, Understaffed: true},
		{Profile: enums.ProfileStructureReferent, Holders: 1, Understaffed: true},
		{Profile: enums.ProfileReceiverPhysician, Holders: 2},
		{Profile: enums.ProfileReceiverStaff, Holders: 0, Understaffed: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("staffing of an MCO with a USP unit:\n got %+v\nwant %+v", got, want)
	}

	// A DAC: only the medico-social profiles; regional support may look.
	sctx, _ := e.viewerFor(enums.ProfileRegionalSupport, e.supportS, nil)
	got, err = e.svc.Staffing(sctx, e.dacA.ID)
	if err != nil {
		t.Fatal(err)
	}
	var profiles []enums.Profile
	for _, h := range got {
		profiles = append(profiles, h.Profile)
	}
	if !slices.Equal(profiles, []enums.Profile{enums.ProfileCoordinatingPhysician, enums.ProfileNonMedicalManager, enums.ProfileSocialOrgReferent}) {
		t.Errorf("DAC profiles %v", profiles)
	}
	_, err = e.svc.Staffing(ctx, e.mcoB.ID)
	wantCode(t, err, apperr.NotFound)
}

func TestExpiringHabilitations(t *testing.T) {
	e := newEnv(t)
	ctx, _ := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil) // valid 180 days: not listed
	soon := func(name string, days float64) *ent.Habilitation {
		return e.habPeriod(e.user("Fin", name), e.mcoA, nil, enums.ProfileCareTeam, e.clock.Add(-30*day),
			e.clock.Add(time.Duration(days*float64(day))))
	}
	in10, in2, in15 := soon("Dix", 10), soon("Deux", 2), soon("Quinze", 15)
	later := soon("Seize", 16)
	ended := soon("Finie", -1)
	revoked := soon("Révoquée", 5)
	e.client.Habilitation.UpdateOneID(revoked.ID).SetRevokedAt(e.clock).ExecX(e.sys)
	disabled := soon("Désactivé", 5)
	e.client.User.UpdateOneID(disabled.UserID).SetDisabled(true).ExecX(e.sys)
	future := e.habPeriod(e.user("Fin", "Future"), e.mcoA, nil, enums.ProfileCareTeam, e.clock.Add(day), e.clock.Add(5*day))
	elsewhere := e.habPeriod(e.user("Fin", "Ailleurs"), e.mcoB, nil, enums.ProfileCareTeam, e.clock.Add(-day), e.clock.Add(3*day))

	got, err := e.svc.ExpiringHabilitations(ctx, e.mcoA.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, h := range got {
		ids = append(ids, h.ID)
	}
	if want := []uuid.UUID{in2.ID, in10.ID, in15.ID}; !slices.Equal(ids, want) {
		t.Errorf("expiring habilitations = %v, want soonest first %v (2, 10 and 15 days)", ids, want)
	}
	// The field and the list say the same (the disabled account's grant is
	// itself still expiring; the list leaves it out: it gives nothing).
	revoked = e.client.Habilitation.GetX(e.sys, revoked.ID)
	for _, c := range []struct {
		h    *ent.Habilitation
		want bool
	}{{in2, true}, {in10, true}, {in15, true}, {later, false}, {ended, false}, {revoked, false}, {future, false}, {disabled, true}} {
		if got := e.svc.ExpiresSoon(c.h); got != c.want {
			t.Errorf("ExpiresSoon(valid %s → %s, revoked %v) = %v, want %v", c.h.ValidFrom, c.h.ValidUntil, c.h.RevokedAt != nil, got, c.want)
		}
	}
	_, err = e.svc.ExpiringHabilitations(ctx, elsewhere.StructureID)
	wantCode(t, err, apperr.NotFound)
}

// --- bootstrap --------------------------------------------------------------

func TestBootstrap(t *testing.T) {
	e := newEnv(t)
	// The preferred FINESS number is taken: the next one is used.
	d, _ := identity.FINESSCheckDigit("75000000")
	e.client.Structure.Create().SetFiness("75000000" + string(d)).SetName("Déjà là").SetKind(enums.StructureKindMco).
		SetDepartment("75").SaveX(e.sys)

	// A failure after the structure was written leaves nothing behind.
	e.client.User.Create().SetEmail("taken@ars.example.fr").SetFirstName("T").SetLastName("T").SaveX(e.sys)
	_, err := e.svc.Bootstrap(context.Background(), "Taken@ars.example.fr", "A", "B")
	wantCode(t, err, apperr.Conflict)
	if n := e.client.Structure.Query().Where(structure.Name(directory.BootstrapStructureName)).CountX(e.sys); n != 0 {
		t.Fatalf("a failed bootstrap left %d structure(s)", n)
	}
	_, err = e.svc.Bootstrap(context.Background(), "pas une adresse", "A", "B")
	wantField(t, err, "email")

	acc, err := e.svc.Bootstrap(context.Background(), " Support@ARS.example.fr", "Sam", "Support")
	if err != nil {
		t.Fatal(err)
	}
	if acc.User.Email != "support@ars.example.fr" || acc.SetupToken == "" || acc.User.PasswordHash != "" {
		t.Errorf("account %+v", acc)
	}
	st := e.client.Structure.Query().Where(structure.Name(directory.BootstrapStructureName)).OnlyX(e.sys)
	if st.Kind != enums.StructureKindRegionalSupport || identity.ValidateFINESS(st.Finess) != nil || st.Finess[:8] != "75000001" {
		t.Errorf("structure %+v", st)
	}
	h := e.client.Habilitation.Query().Where(habilitation.UserID(acc.User.ID)).OnlyX(e.sys)
	if h.Profile != enums.ProfileRegionalSupport || h.StructureID != st.ID || !h.ValidUntil.Equal(e.clock.Add(365*day)) {
		t.Errorf("habilitation %+v", h)
	}
	sess, err := e.auth.SetupPassword(context.Background(), acc.SetupToken, "Tournesol-Velo-Marron-42", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if !authzAnywhere(sess.Viewer) {
		t.Errorf("bootstrap viewer %+v", sess.Viewer)
	}

	_, err = e.svc.Bootstrap(context.Background(), "second@ars.example.fr", "Sec", "Ond")
	wantCode(t, err, apperr.Conflict)
}

func authzAnywhere(v *viewer.Viewer) bool {
	return slices.ContainsFunc(v.Habilitations, func(h viewer.Habilitation) bool { return h.Profile == enums.ProfileRegionalSupport })
}

func TestBootstrapIgnoresDemoSupport(t *testing.T) {
	name := fmt.Sprintf("directory_demo_%d_%s", dbSeq.Add(1), uuid.NewString())
	client := enttest.Open(t, "sqlite3", "file:"+name+"?mode=memory&cache=shared&_fk=1")
	t.Cleanup(func() { _ = client.Close() })
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	if _, err := demo.Load(context.Background(), client, now); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	svc := directory.NewService(client, auth.NewService(client, auth.Config{Now: clock}), directory.Config{Now: clock})
	if _, err := svc.Bootstrap(context.Background(), "vrai.support@ars.example.fr", "Vrai", "Support"); err != nil {
		t.Fatalf("bootstrap with only demo support accounts: %v", err)
	}
	_, err := svc.Bootstrap(context.Background(), "autre@ars.example.fr", "Autre", "Support")
	wantCode(t, err, apperr.Conflict)
}

func TestSetEmailNotifications(t *testing.T) {
	e := newEnv(t)
	own, holder := e.viewerFor(enums.ProfileCareTeam, e.mcoA, nil)
	h := e.client.Habilitation.GetX(e.sys, holder.Habilitations[0].ID)
	got, err := e.svc.SetEmailNotifications(own, h.ID, true)
	if err != nil || !got.EmailNotifications {
		t.Fatalf("the holder switching on: %v, %v", got, err)
	}
	ref, _ := e.viewerFor(enums.ProfileStructureReferent, e.mcoA, nil)
	if got, err = e.svc.SetEmailNotifications(ref, h.ID, false); err != nil || got.EmailNotifications {
		t.Fatalf("the structure's referent switching off: %v, %v", got, err)
	}
	// Another referent's structure, a colleague without the right: unknown.
	other, _ := e.viewerFor(enums.ProfileStructureReferent, e.mcoB, nil)
	_, err = e.svc.SetEmailNotifications(other, h.ID, true)
	wantCode(t, err, apperr.NotFound)
	colleague, _ := e.viewerFor(enums.ProfilePrescriberPhysician, e.mcoA, nil)
	_, err = e.svc.SetEmailNotifications(colleague, h.ID, true)
	wantCode(t, err, apperr.NotFound)
	_, err = e.svc.SetEmailNotifications(own, uuid.New(), true)
	wantCode(t, err, apperr.NotFound)
	_, err = e.svc.SetEmailNotifications(context.Background(), h.ID, true)
	wantCode(t, err, apperr.Unauthenticated)
	e.client.Habilitation.UpdateOneID(h.ID).SetRevokedAt(e.clock).ExecX(e.sys)
	_, err = e.svc.SetEmailNotifications(own, h.ID, true)
	wantCode(t, err, apperr.Conflict)
}
