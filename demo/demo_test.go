package demo_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"passerelle/auth"
	"passerelle/authz"
	"passerelle/demo"
	"passerelle/ent"
	"passerelle/ent/enttest"
	"passerelle/ent/habilitation"
	_ "passerelle/ent/runtime"
	"passerelle/ent/unit"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/viewer"
)

// contractAccounts is the accounts table of the client contract, verbatim
// (e-mail, profile, where; for receivers "where" is the USP unit).
var contractAccounts = []struct {
	email   string
	profile enums.Profile
	where   string
}{
	{"prescripteur@diaconesses.demo", enums.ProfilePrescriberPhysician, "Hôpital des Diaconesses"},
	{"soignant@diaconesses.demo", enums.ProfileCareTeam, "Hôpital des Diaconesses"},
	{"gestionnaire@diaconesses.demo", enums.ProfileAdminSocialManager, "Hôpital des Diaconesses"},
	{"referent@diaconesses.demo", enums.ProfileStructureReferent, "Hôpital des Diaconesses"},
	{"prescripteur@pompidou.demo", enums.ProfilePrescriberPhysician, "Hôpital Européen Georges-Pompidou"},
	{"coordo@dac75.demo", enums.ProfileCoordinatingPhysician, "DAC Paris Centre"},
	{"gestionnaire@dac75.demo", enums.ProfileNonMedicalManager, "DAC Paris Centre"},
	{"dr.martin@liberal.demo", enums.ProfileLiberalPhysician, "Cabinet du Dr Martin"},
	{"medecin@sainte-perine.demo", enums.ProfileReceiverPhysician, "USP Sainte-Périne"},
	{"secretariat@sainte-perine.demo", enums.ProfileReceiverStaff, "USP Sainte-Périne"},
	{"medecin@jeanne-garnier.demo", enums.ProfileReceiverPhysician, "Maison médicale Jeanne Garnier"},
	{"medecin@forcilles.demo", enums.ProfileReceiverPhysician, "USP Forcilles"},
	{"support@region.demo", enums.ProfileRegionalSupport, "Support régional Passerelle"},
	{"observatoire@ars.demo", enums.ProfileObserver, "Agence régionale de santé Île-de-France"},
}

var now = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func open(t *testing.T) *ent.Client {
	t.Helper()
	c := enttest.Open(t, "sqlite3", "file:"+t.Name()+"?mode=memory&cache=shared&_fk=1")
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type counts struct{ structures, units, users, habilitations int }

func count(t *testing.T, ctx context.Context, c *ent.Client) counts {
	t.Helper()
	var n counts
	var err error
	if n.structures, err = c.Structure.Query().Count(ctx); err != nil {
		t.Fatal(err)
	}
	if n.units, err = c.Unit.Query().Count(ctx); err != nil {
		t.Fatal(err)
	}
	if n.users, err = c.User.Query().Count(ctx); err != nil {
		t.Fatal(err)
	}
	if n.habilitations, err = c.Habilitation.Query().Count(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAccountsMatchContract(t *testing.T) {
	got := demo.Accounts()
	if len(got) != len(contractAccounts) {
		t.Fatalf("Accounts() has %d accounts, the contract %d", len(got), len(contractAccounts))
	}
	for i, want := range contractAccounts {
		a := got[i]
		where := a.Structure
		if a.Unit != "" {
			where = a.Unit
		}
		if a.Email != want.email || a.Profile != want.profile || where != want.where {
			t.Errorf("account %d = %s %s %q, want %s %s %q", i, a.Email, a.Profile, where, want.email, want.profile, want.where)
		}
		if !strings.HasSuffix(a.Email, demo.EmailDomainSuffix) {
			t.Errorf("%s does not end with %s", a.Email, demo.EmailDomainSuffix)
		}
		if n, err := identity.ValidateEmail(a.Email); err != nil || n != a.Email {
			t.Errorf("%s: not a normalized e-mail: %q, %v", a.Email, n, err)
		}
	}
}

func TestLoad(t *testing.T) {
	client := open(t)
	ctx := viewer.System(context.Background())

	created, err := demo.Load(context.Background(), client, now)
	if err != nil || !created {
		t.Fatalf("Load on an empty database = %v, %v; want true, nil", created, err)
	}

	// USP units: at least 26, across the 8 départements of Île-de-France,
	// each with a complete sheet.
	usps, err := client.Unit.Query().Where(unit.KindEQ(enums.UnitKindUsp)).WithStructure().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(usps) < 26 {
		t.Errorf("%d USP units, want at least 26", len(usps))
	}
	deps := map[string]int{}
	notAccepting := 0
	for _, u := range usps {
		deps[u.Edges.Structure.Department]++
		if u.Capacity == nil || *u.Capacity < 8 || *u.Capacity > 30 {
			t.Errorf("%s: capacity %v, want 8..30", u.Name, u.Capacity)
			continue
		}
		if u.AvailableBeds == nil || *u.AvailableBeds < 0 || *u.AvailableBeds > *u.Capacity {
			t.Errorf("%s: available beds %v out of 0..%d", u.Name, u.AvailableBeds, *u.Capacity)
		}
		if u.AvailableBedsUpdatedAt == nil || !u.AvailableBedsUpdatedAt.Equal(now) {
			t.Errorf("%s: available beds updated at %v, want %v", u.Name, u.AvailableBedsUpdatedAt, now)
		}
		if u.AdmissionCriteria == "" || u.AdmissionHours == "" {
			t.Errorf("%s: admission criteria or hours missing", u.Name)
		}
		if !u.AcceptingRequests {
			notAccepting++
		}
	}
	for _, d := range []string{"75", "77", "78", "91", "92", "93", "94", "95"} {
		if deps[d] == 0 {
			t.Errorf("no USP unit in département %s", d)
		}
	}
	if len(deps) != 8 {
		t.Errorf("USP units in départements %v, want exactly the 8 of Île-de-France", deps)
	}
	if notAccepting != 2 {
		t.Errorf("%d USP units not accepting requests, want 2", notAccepting)
	}
	for _, name := range []string{"USP Sainte-Périne", "Maison médicale Jeanne Garnier", "Hôpital Cognacq-Jay", "USP Forcilles"} {
		i := slices.IndexFunc(usps, func(u *ent.Unit) bool { return u.Name == name })
		if i < 0 {
			t.Errorf("USP unit %q missing", name)
			continue
		}
		if u := usps[i]; !u.AcceptingRequests {
			t.Errorf("%s does not accept requests", name)
		}
	}

	// Structures: valid and unique FINESS numbers, the requesting ones there.
	structures, err := client.Structure.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	kinds := map[string]enums.StructureKind{}
	for _, s := range structures {
		if err := identity.ValidateFINESS(s.Finess); err != nil {
			t.Errorf("%s: FINESS %s: %v", s.Name, s.Finess, err)
		}
		if !strings.HasPrefix(s.Finess, s.Department) {
			t.Errorf("%s: FINESS %s does not start with its département %s", s.Name, s.Finess, s.Department)
		}
		if seen[s.Finess] {
			t.Errorf("FINESS %s used twice", s.Finess)
		}
		seen[s.Finess] = true
		kinds[s.Name] = s.Kind
	}
	for name, kind := range map[string]enums.StructureKind{
		"Hôpital des Diaconesses":                 enums.StructureKindMco,
		"Hôpital Européen Georges-Pompidou":       enums.StructureKindMco,
		"DAC Paris Centre":                        enums.StructureKindDac,
		"Cabinet du Dr Martin":                    enums.StructureKindLiberalPractice,
		"Support régional Passerelle":             enums.StructureKindRegionalSupport,
		"Agence régionale de santé Île-de-France": enums.StructureKindAuthority,
		"Hôpital Sainte-Périne":                   enums.StructureKindUsp,
		"Maison médicale Jeanne Garnier":          enums.StructureKindUsp,
	} {
		if kinds[name] != kind {
			t.Errorf("structure %q has kind %q, want %q", name, kinds[name], kind)
		}
	}

	// Accounts: exactly the contract's, each with exactly its profile where
	// the contract says, and every grant fitting its structure.
	users, err := client.User.Query().
		WithHabilitations(func(q *ent.HabilitationQuery) { q.WithStructure().WithUnit() }).
		All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != len(contractAccounts) {
		t.Errorf("%d users, want %d", len(users), len(contractAccounts))
	}
	byEmail := map[string]*ent.User{}
	for _, u := range users {
		byEmail[u.Email] = u
		if !u.Demo {
			t.Errorf("%s: demo = false", u.Email)
		}
		if u.PasswordChangedAt == nil || !u.PasswordChangedAt.Equal(now) {
			t.Errorf("%s: password changed at %v, want %v", u.Email, u.PasswordChangedAt, now)
		}
		if u.FirstName == "" || u.LastName == "" || u.Profession == "" {
			t.Errorf("%s: name or profession missing", u.Email)
		}
		for _, h := range u.Edges.Habilitations {
			var unitKind *enums.UnitKind
			if h.Edges.Unit != nil {
				unitKind = &h.Edges.Unit.Kind
				if h.Edges.Unit.StructureID != h.StructureID {
					t.Errorf("%s: unit %s is not in structure %s", u.Email, h.Edges.Unit.Name, h.Edges.Structure.Name)
				}
			}
			if ok, why := authz.FitsStructure(h.Profile, h.Edges.Structure.Kind, unitKind); !ok {
				t.Errorf("%s: %s", u.Email, why)
			}
			if !h.ValidFrom.Equal(now.Add(-24*time.Hour)) || !h.ValidUntil.Equal(now.Add(365*24*time.Hour)) {
				t.Errorf("%s: valid %v – %v", u.Email, h.ValidFrom, h.ValidUntil)
			}
			if h.RevokedAt != nil {
				t.Errorf("%s: habilitation revoked", u.Email)
			}
		}
	}
	for _, want := range contractAccounts {
		u := byEmail[want.email]
		if u == nil {
			t.Errorf("account %s missing", want.email)
			continue
		}
		if len(u.Edges.Habilitations) != 1 {
			t.Errorf("%s: %d habilitations, want 1", want.email, len(u.Edges.Habilitations))
			continue
		}
		h := u.Edges.Habilitations[0]
		where := h.Edges.Structure.Name
		receiving := authz.SideOf(want.profile) == authz.Receiving
		if receiving {
			if h.Edges.Unit == nil {
				t.Errorf("%s: receiving grant without a unit", want.email)
				continue
			}
			if h.Edges.Unit.Kind != enums.UnitKindUsp {
				t.Errorf("%s: granted on unit %s of kind %s", want.email, h.Edges.Unit.Name, h.Edges.Unit.Kind)
			}
			where = h.Edges.Unit.Name
		} else if h.UnitID != nil {
			t.Errorf("%s: requesting/administrative grant narrowed to a unit", want.email)
		}
		if h.Profile != want.profile || where != want.where {
			t.Errorf("%s: %s on %q, want %s on %q", want.email, h.Profile, where, want.profile, want.where)
		}
	}

	// One hash for all, and it is the demo password's.
	u, err := client.User.Query().Where(user.Email("medecin@sainte-perine.demo")).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := auth.VerifyPassword(u.PasswordHash, demo.Password); err != nil || !ok {
		t.Errorf("VerifyPassword(demo password) = %v, %v", ok, err)
	}
	if ok, _ := auth.VerifyPassword(u.PasswordHash, "wrong"); ok {
		t.Error("VerifyPassword accepts a wrong password")
	}
	hashes := map[string]bool{}
	for _, u := range users {
		hashes[u.PasswordHash] = true
	}
	if len(hashes) != 1 {
		t.Errorf("%d distinct password hashes, want 1", len(hashes))
	}

	// A second load reuses the data set as it is.
	before := count(t, ctx, client)
	created, err = demo.Load(context.Background(), client, now.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("second Load = %v, %v; want false, nil", created, err)
	}
	if after := count(t, ctx, client); after != before {
		t.Errorf("second Load changed the database: %+v → %+v", before, after)
	}
	n, err := client.Habilitation.Query().Where(habilitation.ValidFrom(now.Add(-24 * time.Hour))).Count(ctx)
	if err != nil || n != before.habilitations {
		t.Errorf("habilitations rewritten by the second Load: %d of %d unchanged (%v)", n, before.habilitations, err)
	}
}

func TestLoadRefusesRealUser(t *testing.T) {
	client := open(t)
	ctx := viewer.System(context.Background())
	if _, err := client.User.Create().SetEmail("claire.martin@chu-exemple.fr").
		SetFirstName("Claire").SetLastName("Martin").Save(ctx); err != nil {
		t.Fatal(err)
	}
	before := count(t, ctx, client)
	created, err := demo.Load(context.Background(), client, now)
	if !errors.Is(err, demo.ErrRealData) || created {
		t.Fatalf("Load on real data = %v, %v; want false, ErrRealData", created, err)
	}
	if after := count(t, ctx, client); after != before {
		t.Errorf("Load wrote into a real database: %+v → %+v", before, after)
	}
}

func TestLoadReusesDemoWithStructuresAddedInPlay(t *testing.T) {
	client := open(t)
	ctx := viewer.System(context.Background())
	if _, err := demo.Load(ctx, client, now); err != nil {
		t.Fatal(err)
	}
	// A structure created while playing the demo (by its regional support
	// account) keeps the database a demo one: only real accounts count.
	if _, err := client.Structure.Create().SetFiness("750000010").SetName("Clinique de démonstration").
		SetKind(enums.StructureKindMco).SetDepartment("75").Save(ctx); err != nil {
		t.Fatal(err)
	}
	before := count(t, ctx, client)
	created, err := demo.Load(ctx, client, now)
	if err != nil || created {
		t.Fatalf("Load after play = %v, %v; want false, nil", created, err)
	}
	if after := count(t, ctx, client); after != before {
		t.Errorf("Load wrote into an existing demo database: %+v → %+v", before, after)
	}
}

func TestPrintBanner(t *testing.T) {
	var b bytes.Buffer
	demo.PrintBanner(&b)
	out := b.String()
	if !strings.Contains(out, demo.Password) {
		t.Error("banner does not show the password")
	}
	for _, a := range demo.Accounts() {
		if !strings.Contains(out, a.Email) {
			t.Errorf("banner does not list %s", a.Email)
		}
	}
}
