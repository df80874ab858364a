package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/auth"
	"passerelle/demo"
	"passerelle/ent"
	"passerelle/ent/habilitation"
	"passerelle/ent/session"
	"passerelle/ent/unit"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// fixture is a fresh database (SQLite, or PostgreSQL when
// PASSERELLE_TEST_POSTGRES is set) with a few structures and units, a
// settable clock, and a counter of the SQL statements sent while armed.
type fixture struct {
	tb     testing.TB
	db     *store.DB
	client *ent.Client
	sys    context.Context
	clock  time.Time
	seq    int

	mu    sync.Mutex
	armed bool
	log   []string

	// hospital has two USP units and a ward; clinic one USP unit; dac none.
	hospital, clinic, dac  *ent.Structure
	usp1, usp2, ward, usp3 *ent.Unit
}

func newFixture(tb testing.TB, traced bool) *fixture {
	tb.Helper()
	f := &fixture{tb: tb, sys: viewer.System(context.Background()),
		// Microseconds: what both databases keep.
		clock: time.Date(2026, 3, 2, 9, 30, 0, 123456000, time.UTC)}
	var cfg store.Config
	if traced {
		cfg.Trace = f.trace
	}
	db := storetest.Open(tb, cfg)
	f.db, f.client = db, db.Client
	return f
}

// withStructures adds the fixture's own structures and units.
func (f *fixture) withStructures() *fixture {
	f.hospital = f.structure("CH Alpha", enums.StructureKindMco)
	f.clinic = f.structure("Clinique Bravo", enums.StructureKindSmr)
	f.dac = f.structure("DAC Charlie", enums.StructureKindDac)
	f.usp1 = f.unit(f.hospital, "USP 1", enums.UnitKindUsp)
	f.usp2 = f.unit(f.hospital, "USP 2", enums.UnitKindUsp)
	f.ward = f.unit(f.hospital, "Médecine", enums.UnitKindWard)
	f.usp3 = f.unit(f.clinic, "USP 3", enums.UnitKindUsp)
	return f
}

func (f *fixture) trace(_ context.Context, stmt string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed {
		f.log = append(f.log, stmt)
	}
}

// count returns the statements fn sent.
func (f *fixture) count(fn func()) []string {
	f.mu.Lock()
	f.armed, f.log = true, nil
	f.mu.Unlock()
	fn()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
	return f.log
}

func (f *fixture) service(demoMode bool) *auth.Service {
	return auth.NewService(f.client, auth.Config{DemoMode: demoMode, Now: func() time.Time { return f.clock }})
}

func (f *fixture) next() int { f.seq++; return f.seq }

func (f *fixture) structure(name string, kind enums.StructureKind) *ent.Structure {
	f.tb.Helper()
	first8 := fmt.Sprintf("93%06d", f.next())
	d, err := identity.FINESSCheckDigit(first8)
	if err != nil {
		f.tb.Fatal(err)
	}
	s, err := f.client.Structure.Create().SetFiness(first8 + string(d)).SetName(name).SetKind(kind).
		SetDepartment("93").Save(f.sys)
	if err != nil {
		f.tb.Fatal(err)
	}
	return s
}

func (f *fixture) unit(s *ent.Structure, name string, kind enums.UnitKind) *ent.Unit {
	f.tb.Helper()
	u, err := f.client.Unit.Create().SetStructureID(s.ID).SetName(name).SetKind(kind).Save(f.sys)
	if err != nil {
		f.tb.Fatal(err)
	}
	return u
}

// user creates an account whose password was changed at changed (nil: never).
func (f *fixture) user(changed *time.Time) *ent.User {
	f.tb.Helper()
	u, err := f.client.User.Create().SetEmail(fmt.Sprintf("u%d@example.org", f.next())).
		SetFirstName("Prénom").SetLastName("Nom").SetNillablePasswordChangedAt(changed).Save(f.sys)
	if err != nil {
		f.tb.Fatal(err)
	}
	return u
}

// grant gives u a profile on s (on un when not nil) from from to until,
// revoked when revoked.
func (f *fixture) grant(u *ent.User, s *ent.Structure, un *ent.Unit, p enums.Profile, from, until time.Time, revoked bool) *ent.Habilitation {
	f.tb.Helper()
	c := f.client.Habilitation.Create().SetUserID(u.ID).SetStructureID(s.ID).SetProfile(p).
		SetValidFrom(from).SetValidUntil(until)
	if un != nil {
		c.SetUnitID(un.ID)
	}
	if revoked {
		c.SetRevokedAt(from)
	}
	h, err := c.Save(f.sys)
	if err != nil {
		f.tb.Fatal(err)
	}
	return h
}

// sessionOf opens a session of u directly in storage and returns its token.
func (f *fixture) sessionOf(u *ent.User, lastSeen, expires time.Time, revoked bool) (string, *ent.Session) {
	f.tb.Helper()
	token, hash, err := auth.NewToken()
	if err != nil {
		f.tb.Fatal(err)
	}
	c := f.client.Session.Create().SetUserID(u.ID).SetTokenHash(hash).SetCreatedAt(lastSeen).
		SetLastSeenAt(lastSeen).SetExpiresAt(expires)
	if revoked {
		c.SetRevokedAt(lastSeen)
	}
	s, err := c.Save(f.sys)
	if err != nil {
		f.tb.Fatal(err)
	}
	return token, s
}

// reference is Authenticate and LoadViewer as written before they were
// joined: one query per entity (the session, its user, the habilitations
// valid now, their structures, the USP units of structure-wide receiving
// habilitations). It does not refresh last_seen_at. The joined queries must
// build the same viewer and refuse the same sessions with the same error.
func reference(ctx context.Context, client *ent.Client, cfg auth.Config, token string) (*viewer.Viewer, error) {
	if token == "" {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	sys := viewer.System(ctx)
	now := cfg.Now()
	sess, err := client.Session.Query().Where(session.TokenHash(auth.HashToken(token))).WithUser().Only(sys)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.Unauthenticated, "unknown or revoked session; sign in again")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case sess.RevokedAt != nil:
		return nil, apperr.New(apperr.Unauthenticated, "session revoked; sign in again")
	case !now.Before(sess.ExpiresAt):
		return nil, apperr.New(apperr.Unauthenticated, "session expired; sign in again")
	case now.Sub(sess.LastSeenAt) >= cfg.IdleTimeout:
		return nil, apperr.New(apperr.Unauthenticated, "session idle for too long; sign in again")
	case sess.Edges.User.Disabled:
		return nil, apperr.New(apperr.Unauthenticated, "account disabled")
	case sess.Edges.User.Demo && !cfg.DemoMode:
		return nil, apperr.New(apperr.Unauthenticated, "demo accounts work only in demo mode")
	}
	u := sess.Edges.User
	habs, err := client.Habilitation.Query().
		Where(habilitation.UserID(u.ID), habilitation.ValidFromLTE(now), habilitation.ValidUntilGT(now),
			habilitation.RevokedAtIsNil()).
		WithStructure().All(sys)
	if err != nil {
		return nil, err
	}
	v := &viewer.Viewer{UserID: u.ID, SessionID: sess.ID, Email: u.Email}
	v.PasswordExpired = u.PasswordChangedAt == nil || now.Sub(*u.PasswordChangedAt) > cfg.PasswordMaxAge
	var wholeStructures []uuid.UUID
	for _, h := range habs {
		v.Habilitations = append(v.Habilitations, viewer.Habilitation{
			ID: h.ID, Profile: h.Profile, StructureID: h.StructureID, StructureKind: h.Edges.Structure.Kind,
			UnitID: h.UnitID, ValidUntil: h.ValidUntil,
		})
		if h.Profile == enums.ProfileReceiverPhysician || h.Profile == enums.ProfileReceiverStaff {
			if h.UnitID != nil {
				v.ReceivingUnits = append(v.ReceivingUnits, *h.UnitID)
			} else {
				wholeStructures = append(wholeStructures, h.StructureID)
			}
		}
	}
	if len(wholeStructures) > 0 {
		ids, err := client.Unit.Query().
			Where(unit.StructureIDIn(wholeStructures...), unit.KindEQ(enums.UnitKindUsp)).IDs(sys)
		if err != nil {
			return nil, err
		}
		v.ReceivingUnits = append(v.ReceivingUnits, ids...)
	}
	return v, nil
}

// describe renders a viewer with its habilitations and receiving units in
// a canonical order (the reference reads them in no particular order).
func describe(v *viewer.Viewer) string {
	if v == nil {
		return "<nil>"
	}
	habs := make([]string, len(v.Habilitations))
	for i, h := range v.Habilitations {
		unitID := "-"
		if h.UnitID != nil {
			unitID = h.UnitID.String()
		}
		habs[i] = fmt.Sprintf("%s %s %s %s %s %s", h.ID, h.Profile, h.StructureID, h.StructureKind, unitID,
			h.ValidUntil.UTC().Format(time.RFC3339Nano))
	}
	slices.Sort(habs)
	units := make([]string, len(v.ReceivingUnits))
	for i, u := range v.ReceivingUnits {
		units[i] = u.String()
	}
	slices.Sort(units)
	return fmt.Sprintf("user %s session %s email %s passwordExpired %v\nhabilitations:\n  %s\nreceiving units: %s",
		v.UserID, v.SessionID, v.Email, v.PasswordExpired, strings.Join(habs, "\n  "), strings.Join(units, " "))
}

func describeErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return string(ae.Code) + ": " + ae.Message
	}
	return "non-API error: " + err.Error()
}

// TestAuthenticateAsReference compares Authenticate with the reference on
// every rule: session revoked, expired, idle (at and around the limits),
// account disabled, demo account in and out of demo mode, password age,
// habilitation validity dates (bounds included and excluded), revoked
// habilitations, unit-scoped and structure-wide receiving habilitations
// (several USP units, a structure without one, the same structure twice,
// the same unit twice), another user's habilitations.
func TestAuthenticateAsReference(t *testing.T) {
	f := newFixture(t, false).withStructures()
	now := f.clock
	day := 24 * time.Hour
	past, future := now.Add(-30*day), now.Add(30*day)

	recent := now.Add(-day)
	maxAge := 183 * day
	atMaxAge, overMaxAge := now.Add(-maxAge), now.Add(-maxAge-time.Microsecond)

	// Users and their habilitations.
	rich := f.user(&recent)
	f.grant(rich, f.hospital, nil, enums.ProfilePrescriberPhysician, past, future, false)
	f.grant(rich, f.hospital, f.ward, enums.ProfileCareTeam, past, future, false)
	f.grant(rich, f.hospital, nil, enums.ProfileReceiverStaff, past, future, false)     // usp1, usp2
	f.grant(rich, f.hospital, nil, enums.ProfileReceiverPhysician, past, future, false) // the same structure again
	f.grant(rich, f.hospital, f.usp1, enums.ProfileReceiverPhysician, past, future, false)
	f.grant(rich, f.clinic, f.usp3, enums.ProfileReceiverStaff, now, future, false)                    // valid from now: valid
	f.grant(rich, f.dac, nil, enums.ProfileReceiverPhysician, past, now.Add(time.Second), false)       // no USP unit
	f.grant(rich, f.clinic, nil, enums.ProfileReceiverPhysician, past, now, false)                     // ends now: gone
	f.grant(rich, f.clinic, nil, enums.ProfileReceiverStaff, now.Add(time.Microsecond), future, false) // not yet
	f.grant(rich, f.clinic, nil, enums.ProfileReceiverStaff, past, future, true)                       // revoked
	f.grant(rich, f.dac, nil, enums.ProfileNonMedicalManager, past, future, true)                      // revoked

	receiver := f.user(&atMaxAge)
	f.grant(receiver, f.clinic, nil, enums.ProfileReceiverPhysician, past, future, false)
	f.grant(receiver, f.hospital, f.usp2, enums.ProfileReceiverStaff, past, future, false)

	unitOnly := f.user(&overMaxAge)
	f.grant(unitOnly, f.hospital, f.usp1, enums.ProfileReceiverPhysician, past, future, false)

	none := f.user(nil) // no habilitation, never set a password
	expiredOnly := f.user(&recent)
	f.grant(expiredOnly, f.hospital, nil, enums.ProfileCareTeam, past, now.Add(-time.Second), false)
	f.grant(expiredOnly, f.hospital, nil, enums.ProfileReceiverStaff, past, future, true)

	disabled := f.user(&recent)
	f.grant(disabled, f.hospital, nil, enums.ProfileCareTeam, past, future, false)
	f.client.User.UpdateOneID(disabled.ID).SetDisabled(true).SetDisabledAt(past).ExecX(f.sys)

	demoUser := f.user(&recent)
	f.grant(demoUser, f.clinic, nil, enums.ProfileReceiverStaff, past, future, false)
	f.client.User.UpdateOneID(demoUser.ID).SetDemo(true).ExecX(f.sys)

	disabledDemo := f.user(&recent)
	f.client.User.UpdateOneID(disabledDemo.ID).SetDemo(true).SetDisabled(true).ExecX(f.sys)

	users := map[string]*ent.User{"rich": rich, "receiver": receiver, "unit-only": unitOnly, "none": none,
		"expired-only": expiredOnly, "disabled": disabled, "demo": demoUser, "disabled-demo": disabledDemo}

	// Session shapes.
	idle := 30 * time.Minute
	type shape struct {
		lastSeen, expires time.Time
		revoked           bool
	}
	shapes := map[string]shape{
		"fresh":               {now.Add(-10 * time.Second), now.Add(12 * time.Hour), false},
		"seen 2 min ago":      {now.Add(-2 * time.Minute), now.Add(12 * time.Hour), false},
		"almost idle":         {now.Add(-idle + time.Microsecond), now.Add(12 * time.Hour), false},
		"idle":                {now.Add(-idle), now.Add(12 * time.Hour), false},
		"expires now":         {now.Add(-time.Minute), now, false},
		"expires in 1µs":      {now.Add(-time.Minute), now.Add(time.Microsecond), false},
		"revoked":             {now.Add(-10 * time.Second), now.Add(12 * time.Hour), true},
		"revoked and idle":    {now.Add(-time.Hour), now.Add(12 * time.Hour), true},
		"expired and idle":    {now.Add(-time.Hour), now.Add(-time.Minute), false},
		"idle, seen long ago": {now.Add(-11 * time.Hour), now.Add(time.Hour), false},
	}
	type tc struct {
		name, token string
		sess        *ent.Session
	}
	var cases []tc
	for un, u := range users {
		for sn, s := range shapes {
			tok, sess := f.sessionOf(u, s.lastSeen, s.expires, s.revoked)
			cases = append(cases, tc{un + "/" + sn, tok, sess})
		}
	}
	cases = append(cases, tc{name: "empty token"}, tc{name: "unknown token", token: "not-a-session"})
	slices.SortFunc(cases, func(a, b tc) int { return strings.Compare(a.name, b.name) })

	for _, demoMode := range []bool{false, true} {
		svc := f.service(demoMode)
		for _, c := range cases {
			t.Run(fmt.Sprintf("demo=%v/%s", demoMode, c.name), func(t *testing.T) {
				if c.sess != nil { // each run starts from the stored shape
					f.client.Session.UpdateOneID(c.sess.ID).SetLastSeenAt(c.sess.LastSeenAt).ExecX(f.sys)
				}
				want, wantErr := reference(context.Background(), f.client, svc.Config(), c.token)
				got, gotErr := svc.Authenticate(context.Background(), c.token)
				if describeErr(gotErr) != describeErr(wantErr) {
					t.Fatalf("error %s, want %s", describeErr(gotErr), describeErr(wantErr))
				}
				if describe(got) != describe(want) {
					t.Fatalf("viewer\n%s\nwant\n%s", describe(got), describe(want))
				}
				if got != nil && want != nil && (len(got.Habilitations) != len(want.Habilitations) ||
					len(got.ReceivingUnits) != len(want.ReceivingUnits)) {
					t.Fatalf("lengths differ: %+v, want %+v", got, want)
				}
			})
		}
	}

	// The rich user's viewer, spelled out (the reference could be wrong too).
	tok, _ := f.sessionOf(rich, now, future, false)
	v, err := f.service(false).Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Habilitations) != 7 || v.PasswordExpired {
		t.Fatalf("rich viewer: %s", describe(v))
	}
	var units []uuid.UUID
	units = append(units, v.ReceivingUnits...)
	slices.SortFunc(units, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	want := []uuid.UUID{f.usp1.ID, f.usp1.ID, f.usp2.ID, f.usp3.ID} // usp1: unit-scoped and structure-wide
	slices.SortFunc(want, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(units, want) {
		t.Fatalf("rich receiving units %v, want %v", units, want)
	}
}

// TestAuthenticateReadsGrantsAfresh: a revocation, an expiry, a new grant,
// a disabled account or a revoked session count on the very next call
// (nothing is cached).
func TestAuthenticateReadsGrantsAfresh(t *testing.T) {
	f := newFixture(t, false).withStructures()
	svc := f.service(false)
	now := f.clock
	u := f.user(&now)
	h := f.grant(u, f.hospital, nil, enums.ProfileReceiverPhysician, now.Add(-time.Hour), now.Add(time.Hour), false)
	tok, sess := f.sessionOf(u, now, now.Add(12*time.Hour), false)
	v, err := svc.Authenticate(context.Background(), tok)
	if err != nil || len(v.Habilitations) != 1 || len(v.ReceivingUnits) != 2 {
		t.Fatalf("before: %s %v", describe(v), err)
	}
	f.client.Habilitation.UpdateOneID(h.ID).SetRevokedAt(now).ExecX(f.sys)
	if v, err = svc.Authenticate(context.Background(), tok); err != nil || v.HasAny() || len(v.ReceivingUnits) != 0 {
		t.Fatalf("after revocation: %s %v", describe(v), err)
	}
	h2 := f.grant(u, f.clinic, f.usp3, enums.ProfileReceiverStaff, now.Add(-time.Hour), now.Add(time.Minute), false)
	if v, err = svc.Authenticate(context.Background(), tok); err != nil || len(v.Habilitations) != 1 ||
		v.Habilitations[0].ID != h2.ID || !slices.Equal(v.ReceivingUnits, []uuid.UUID{f.usp3.ID}) {
		t.Fatalf("after a new grant: %s %v", describe(v), err)
	}
	f.clock = now.Add(time.Minute)
	if v, err = svc.Authenticate(context.Background(), tok); err != nil || v.HasAny() {
		t.Fatalf("after expiry: %s %v", describe(v), err)
	}
	f.client.User.UpdateOneID(u.ID).SetDisabled(true).ExecX(f.sys)
	if _, err = svc.Authenticate(context.Background(), tok); describeErr(err) != "UNAUTHENTICATED: account disabled" {
		t.Fatalf("after disabling: %s", describeErr(err))
	}
	f.client.User.UpdateOneID(u.ID).SetDisabled(false).ExecX(f.sys)
	f.client.Session.UpdateOneID(sess.ID).SetRevokedAt(f.clock).ExecX(f.sys)
	if _, err = svc.Authenticate(context.Background(), tok); describeErr(err) != "UNAUTHENTICATED: session revoked; sign in again" {
		t.Fatalf("after revoking the session: %s", describeErr(err))
	}
}

// TestAuthenticateRefreshesLastSeen: idle tracking writes last_seen_at at
// most once a minute, and never for a refused session.
func TestAuthenticateRefreshesLastSeen(t *testing.T) {
	f := newFixture(t, false).withStructures()
	svc := f.service(false)
	now := f.clock
	u := f.user(&now)
	lastSeen := func(id uuid.UUID) time.Time { return f.client.Session.GetX(f.sys, id).LastSeenAt }
	for _, c := range []struct {
		name    string
		ago     time.Duration
		ok      bool
		refresh bool
	}{
		{"30 s ago", 30 * time.Second, true, false},
		{"exactly 1 min ago", time.Minute, true, false},
		{"2 min ago", 2 * time.Minute, true, true},
		{"idle", 30 * time.Minute, false, false},
	} {
		tok, sess := f.sessionOf(u, now.Add(-c.ago), now.Add(time.Hour), false)
		_, err := svc.Authenticate(context.Background(), tok)
		if (err == nil) != c.ok {
			t.Fatalf("%s: error %v", c.name, err)
		}
		want := sess.LastSeenAt
		if c.refresh {
			want = now
		}
		if got := lastSeen(sess.ID); !got.Equal(want) {
			t.Errorf("%s: last seen %v, want %v", c.name, got, want)
		}
	}
}

// TestAuthenticateStatements: authenticating costs one statement (the
// session, its account and the valid habilitations with what the viewer
// needs of their structures and units, joined), plus the idle-tracking
// update at most once a minute; building the viewer of a signed-in user
// (login) costs one.
func TestAuthenticateStatements(t *testing.T) {
	f := newFixture(t, true).withStructures()
	svc := f.service(false)
	now := f.clock
	u := f.user(&now)
	f.grant(u, f.hospital, nil, enums.ProfilePrescriberPhysician, now.Add(-time.Hour), now.Add(time.Hour), false)
	f.grant(u, f.hospital, nil, enums.ProfileReceiverStaff, now.Add(-time.Hour), now.Add(time.Hour), false)
	f.grant(u, f.clinic, f.usp3, enums.ProfileReceiverPhysician, now.Add(-time.Hour), now.Add(time.Hour), false)
	tok, _ := f.sessionOf(u, now, now.Add(time.Hour), false)
	check := func(what string, want int, fn func()) {
		t.Helper()
		if log := f.count(fn); len(log) != want {
			t.Errorf("%s: %d statements, want %d:\n%s", what, len(log), want, strings.Join(log, "\n"))
		}
	}
	check("Authenticate", 1, func() {
		if v, err := svc.Authenticate(context.Background(), tok); err != nil || len(v.ReceivingUnits) != 3 {
			t.Fatalf("%s %v", describe(v), err)
		}
	})
	f.clock = now.Add(2 * time.Minute)
	check("Authenticate with the idle-tracking update", 2, func() {
		if _, err := svc.Authenticate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	})
	check("Authenticate of an unknown token", 1, func() {
		if _, err := svc.Authenticate(context.Background(), "unknown"); err == nil {
			t.Fatal("unknown token accepted")
		}
	})
	check("LoadViewer", 1, func() {
		if v, err := svc.LoadViewer(context.Background(), u, uuid.Nil); err != nil || len(v.Habilitations) != 3 {
			t.Fatalf("%s %v", describe(v), err)
		}
	})
}

// TestLoadViewerAsReference: the viewer built at sign-in (LoadViewer) is the
// one Authenticate builds for the same session.
func TestLoadViewerAsReference(t *testing.T) {
	f := newFixture(t, false).withStructures()
	svc := f.service(false)
	now := f.clock
	old := now.Add(-200 * 24 * time.Hour)
	for i, changed := range []*time.Time{&now, &old, nil} {
		u := f.user(changed)
		if i < 2 {
			f.grant(u, f.hospital, nil, enums.ProfileReceiverPhysician, now.Add(-time.Hour), now.Add(time.Hour), false)
			f.grant(u, f.clinic, f.usp3, enums.ProfileReceiverStaff, now.Add(-time.Hour), now.Add(time.Hour), false)
			f.grant(u, f.dac, nil, enums.ProfileCareTeam, now.Add(-time.Hour), now, false)
		}
		tok, sess := f.sessionOf(u, now, now.Add(time.Hour), false)
		want, err := reference(context.Background(), f.client, svc.Config(), tok)
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.LoadViewer(context.Background(), f.client.User.Query().Where(user.ID(u.ID)).OnlyX(f.sys), sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if describe(got) != describe(want) {
			t.Errorf("LoadViewer\n%s\nwant\n%s", describe(got), describe(want))
		}
	}
}

// BenchmarkAuthenticate authenticates a bearer token on the demo data set
// (SQLite, or PostgreSQL when PASSERELLE_TEST_POSTGRES is set), for a
// prescriber (one structure-wide habilitation), a receiver holding a
// unit-scoped habilitation and one holding a structure-wide one (its
// structure's USP units are looked up). Sessions stay fresh, so no
// idle-tracking write is measured. Besides the wall time it reports the
// process's CPU time per call (cpu-ns/op, Unix only), steadier than the wall
// time on a shared host.
//
//	go test -run '^$' -bench BenchmarkAuthenticate -benchmem -count 10 ./auth/ | tee new.txt
func BenchmarkAuthenticate(b *testing.B) {
	f := newFixture(b, false)
	if _, err := demo.Load(context.Background(), f.client, f.clock); err != nil {
		b.Fatal(err)
	}
	byEmail := func(email string) *ent.User {
		return f.client.User.Query().Where(user.Email(email)).OnlyX(f.sys)
	}
	receiver := byEmail("medecin@sainte-perine.demo")
	h := f.client.Habilitation.Query().Where(habilitation.UserID(receiver.ID)).OnlyX(f.sys)
	wide := f.client.User.Create().SetEmail("cadre@sainte-perine.demo").SetFirstName("Cadre").SetLastName("Structure").
		SetPasswordChangedAt(f.clock).SetDemo(true).SaveX(f.sys)
	f.client.Habilitation.Create().SetUserID(wide.ID).SetStructureID(h.StructureID).SetProfile(enums.ProfileReceiverStaff).
		SetValidFrom(f.clock.Add(-time.Hour)).SetValidUntil(f.clock.Add(time.Hour)).SaveX(f.sys)
	svc := auth.NewService(f.client, auth.Config{DemoMode: true, Now: func() time.Time { return f.clock }})
	for _, c := range []struct {
		name string
		u    *ent.User
	}{
		{"prescriber", byEmail("prescripteur@diaconesses.demo")},
		{"receiver-unit", receiver},
		{"receiver-structure", wide},
	} {
		tok, _ := f.sessionOf(c.u, f.clock, f.clock.Add(time.Hour), false)
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				v, err := svc.Authenticate(ctx, tok)
				if err != nil || !v.HasAny() {
					b.Fatal(err)
				}
			}
			if cpu1, _ := processCPU(); cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// TestAuthenticateRefreshesLastSeenOnce: the requests of a session that
// arrive together once its last_seen_at is a minute old write the
// idle-tracking update once between them, not once each: while that write
// waits for the database's write lock (SQLite's single writer, the row's
// lock on PostgreSQL), the session's other requests go on instead of
// queueing one write each behind it.
func TestAuthenticateRefreshesLastSeenOnce(t *testing.T) {
	f := newFixture(t, true).withStructures()
	svc := f.service(false)
	now := f.clock
	u := f.user(&now)
	stale := now.Add(-2 * time.Minute)
	tok, sess := f.sessionOf(u, stale, now.Add(time.Hour), false)

	// Another writer holds the lock the update needs.
	tx, err := f.client.Tx(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Session.UpdateOneID(sess.ID).SetLastSeenAt(stale).Exec(f.sys); err != nil {
		t.Fatal(err)
	}
	const requests = 16
	errs := make(chan error, requests)
	log := f.count(func() {
		for range requests {
			go func() {
				_, err := svc.Authenticate(context.Background(), tok)
				errs <- err
			}()
		}
		// All but the one writing the update answer while the lock is held
		// (the bound only keeps a regression from hanging the suite).
		for range requests - 1 {
			select {
			case err := <-errs:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the session's requests wait for its idle-tracking update")
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil {
			t.Error(err)
		}
	})
	updates := 0
	for _, stmt := range log {
		if strings.Contains(stmt, "query=UPDATE") {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("%d idle-tracking updates for %d simultaneous requests, want 1:\n%s", updates, requests, strings.Join(log, "\n"))
	}
	if got := f.client.Session.GetX(f.sys, sess.ID).LastSeenAt; !got.Equal(now) {
		t.Errorf("last seen %v, want %v", got, now)
	}
	// A minute later the next request writes it again.
	f.clock = now.Add(time.Minute + time.Second)
	if _, err := svc.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if got := f.client.Session.GetX(f.sys, sess.ID).LastSeenAt; !got.Equal(f.clock) {
		t.Errorf("a minute later: last seen %v, want %v", got, f.clock)
	}
}

// TestAuthenticateRetriesAFailedIdleTracking: when the idle-tracking update
// fails, the request fails and gives up its claim, so that the session's
// next request writes it (else last_seen_at would stay stale for a minute
// and the session could time out while in use).
func TestAuthenticateRetriesAFailedIdleTracking(t *testing.T) {
	f := newFixture(t, false).withStructures()
	svc := f.service(false)
	now := f.clock
	u := f.user(&now)
	tok, sess := f.sessionOf(u, now.Add(-2*time.Minute), now.Add(time.Hour), false)

	// Every update of a session fails while the trigger is there.
	create, drop := []string{
		"CREATE TRIGGER sessions_frozen BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'frozen'); END",
	}, []string{"DROP TRIGGER sessions_frozen"}
	if f.db.Dialect == dialect.Postgres {
		create = []string{
			"CREATE FUNCTION sessions_frozen() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'frozen'; END $$ LANGUAGE plpgsql",
			"CREATE TRIGGER sessions_frozen BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION sessions_frozen()",
		}
		drop = []string{"DROP TRIGGER sessions_frozen ON sessions", "DROP FUNCTION sessions_frozen()"}
	}
	exec := func(stmts []string) {
		for _, q := range stmts {
			if _, err := f.db.SQL.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	exec(create)
	if _, err := svc.Authenticate(context.Background(), tok); err == nil {
		t.Fatal("the idle-tracking update failed, yet the request was authenticated")
	}
	exec(drop)
	if _, err := svc.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if got := f.client.Session.GetX(f.sys, sess.ID).LastSeenAt; !got.Equal(now) {
		t.Errorf("after a failed update, the next request did not write it: last seen %v, want %v", got, now)
	}
}
