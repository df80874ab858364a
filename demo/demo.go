// Package demo loads the fictional Île-de-France demo data set of the
// client contract ("serve --demo"): 26 USP units across the 8 départements,
// the requesting structures, and one account per row of the contract's
// table, all with the password Password.
//
// Load only ever writes into an empty database; a database that already
// holds the demo data set is reused as it is, and one holding anything else
// (real data) is never touched.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"passerelle/auth"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/viewer"
)

// Password is the password of every demo account. It is a demo password:
// printed at start-up, refused outside demo mode.
const Password = "demo-passerelle-2026"

// EmailDomainSuffix ends the e-mail domain of every demo account.
const EmailDomainSuffix = ".demo"

// ErrRealData is returned by Load when the database already holds data that
// the demo did not create: it is left untouched.
var ErrRealData = errors.New("demo: the database holds real (non-demo) data; the demo data set is loaded only into an empty database")

// Habilitation validity: from one day before the load, for the longest
// duration a habilitation may have.
const (
	validFromBefore = 24 * time.Hour
	validity        = 365 * 24 * time.Hour
)

// Load loads the demo data set. On an empty database (no structure, no user)
// it creates the whole data set in one transaction and returns true. On a
// database holding only the demo data set (every user a demo one, every
// structure one of the demo's) it does nothing and returns false, nil. On
// any other database it returns ErrRealData and writes nothing.
func Load(ctx context.Context, client *ent.Client, now time.Time) (created bool, err error) {
	ctx = viewer.System(ctx)
	now = now.UTC()

	specs := allStructures()
	finess, err := finessNumbers(specs)
	if err != nil {
		return false, err
	}

	tx, err := client.Tx(ctx)
	if err != nil {
		return false, fmt.Errorf("demo: begin: %w", err)
	}
	defer func() {
		if err != nil || !created {
			_ = tx.Rollback()
		}
	}()

	empty, err := checkExisting(ctx, tx)
	if err != nil || !empty {
		return false, err
	}
	if err := create(ctx, tx, specs, finess, now); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("demo: commit: %w", err)
	}
	return true, nil
}

// checkExisting reports whether the database is empty. When it is not, it
// returns ErrRealData if any account is not a demo account.
func checkExisting(ctx context.Context, tx *ent.Tx) (empty bool, err error) {
	structures, err := tx.Structure.Query().Count(ctx)
	if err != nil {
		return false, fmt.Errorf("demo: count structures: %w", err)
	}
	users, err := tx.User.Query().Count(ctx)
	if err != nil {
		return false, fmt.Errorf("demo: count users: %w", err)
	}
	if structures == 0 && users == 0 {
		return true, nil
	}
	realUser, err := tx.User.Query().Where(user.Demo(false)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("demo: look for real users: %w", err)
	}
	// Structures created while playing the demo (by its regional support
	// account) do not make it real: only accounts do, and accounts created
	// by demo accounts are demo accounts (directory.createAccount).
	if realUser {
		return false, ErrRealData
	}
	return false, nil
}

// finessNumbers gives each structure a deterministic, unique, valid FINESS
// number: its département code, "9", its 1-based rank in the data set on 5
// digits, and the check digit.
func finessNumbers(specs []structureSpec) ([]string, error) {
	out := make([]string, len(specs))
	for i, s := range specs {
		first8 := fmt.Sprintf("%s9%05d", s.Department, i+1)
		d, err := identity.FINESSCheckDigit(first8)
		if err != nil {
			return nil, fmt.Errorf("demo: FINESS of %s: %w", s.Name, err)
		}
		out[i] = first8 + string(d)
	}
	return out, nil
}

type unitRef struct {
	id   uuid.UUID
	kind enums.UnitKind
}

type structureRef struct {
	id    uuid.UUID
	kind  enums.StructureKind
	units map[string]unitRef
}

// create writes the data set.
func create(ctx context.Context, tx *ent.Tx, specs []structureSpec, finess []string, now time.Time) error {
	sb := make([]*ent.StructureCreate, len(specs))
	for i, s := range specs {
		c := tx.Structure.Create().
			SetFiness(finess[i]).
			SetName(s.Name).
			SetKind(s.Kind).
			SetDepartment(s.Department).
			SetPhone(fmt.Sprintf(fictionalPhoneFmt, i+1, 0))
		if s.City != "" {
			c.SetCity(s.City)
		}
		if s.PostalCode != "" {
			c.SetPostalCode(s.PostalCode)
		}
		sb[i] = c
	}
	structures, err := tx.Structure.CreateBulk(sb...).Save(ctx)
	if err != nil {
		return fmt.Errorf("demo: create structures: %w", err)
	}

	refs := make(map[string]*structureRef, len(specs))
	var ub []*ent.UnitCreate
	type unitOwner struct{ structure, unit string }
	var owners []unitOwner
	for i, s := range specs {
		refs[s.Name] = &structureRef{id: structures[i].ID, kind: s.Kind, units: map[string]unitRef{}}
		for j, u := range s.Units {
			c := tx.Unit.Create().
				SetStructureID(structures[i].ID).
				SetName(u.Name).
				SetKind(u.Kind)
			if u.Kind == enums.UnitKindUsp {
				c.SetCapacity(u.Capacity).
					SetAvailableBeds(u.Available).
					SetAvailableBedsUpdatedAt(now).
					SetAcceptingRequests(u.Accepting).
					SetAdmissionCriteria(admissionCriteria[u.Criteria]).
					SetAdmissionHours(admissionHours[u.Hours]).
					SetContacts(fmt.Sprintf("Secrétariat : "+fictionalPhoneFmt+" — cadre de santé : "+fictionalPhoneFmt,
						i+1, 10+2*j, i+1, 11+2*j))
			}
			ub = append(ub, c)
			owners = append(owners, unitOwner{s.Name, u.Name})
		}
	}
	units, err := tx.Unit.CreateBulk(ub...).Save(ctx)
	if err != nil {
		return fmt.Errorf("demo: create units: %w", err)
	}
	for i, o := range owners {
		refs[o.structure].units[o.unit] = unitRef{id: units[i].ID, kind: units[i].Kind}
	}

	hash, err := auth.HashPassword(Password)
	if err != nil {
		return fmt.Errorf("demo: hash password: %w", err)
	}
	userBuilders := make([]*ent.UserCreate, len(accounts))
	for i, a := range accounts {
		userBuilders[i] = tx.User.Create().
			SetEmail(a.Email).
			SetFirstName(a.FirstName).
			SetLastName(a.LastName).
			SetProfession(a.Profession).
			SetPasswordHash(hash).
			SetPasswordChangedAt(now).
			SetDemo(true)
	}
	users, err := tx.User.CreateBulk(userBuilders...).Save(ctx)
	if err != nil {
		return fmt.Errorf("demo: create users: %w", err)
	}

	hb := make([]*ent.HabilitationCreate, len(accounts))
	for i, a := range accounts {
		s, ok := refs[a.Structure]
		if !ok {
			return fmt.Errorf("demo: account %s: unknown structure %q", a.Email, a.Structure)
		}
		var unitID *uuid.UUID
		var unitKind *enums.UnitKind
		if a.Unit != "" {
			u, ok := s.units[a.Unit]
			if !ok {
				return fmt.Errorf("demo: account %s: unknown unit %q of %q", a.Email, a.Unit, a.Structure)
			}
			unitID, unitKind = &u.id, &u.kind
		}
		if ok, why := authz.FitsStructure(a.Profile, s.kind, unitKind); !ok {
			return fmt.Errorf("demo: account %s: %s", a.Email, why)
		}
		hb[i] = tx.Habilitation.Create().
			SetUserID(users[i].ID).
			SetStructureID(s.id).
			SetNillableUnitID(unitID).
			SetProfile(a.Profile).
			SetValidFrom(now.Add(-validFromBefore)).
			SetValidUntil(now.Add(validity))
	}
	if _, err := tx.Habilitation.CreateBulk(hb...).Save(ctx); err != nil {
		return fmt.Errorf("demo: create habilitations: %w", err)
	}
	return nil
}

// PrintBanner writes the start-up notice of demo mode: the accounts and
// their shared password.
func PrintBanner(w io.Writer) {
	fmt.Fprintln(w, "Passerelle — MODE DÉMONSTRATION / DEMO MODE")
	fmt.Fprintln(w, "Données fictives (Île-de-France), ne pas utiliser en production / fictional data, not for production use.")
	fmt.Fprintf(w, "Mot de passe de tous les comptes / password of every account: %s\n", Password)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  E-mail\tProfil / profile\tOù / where")
	for _, a := range Accounts() {
		where := a.Structure
		if a.Unit != "" && a.Unit != a.Structure {
			where = a.Unit + " (" + a.Structure + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Email, a.Profile, where)
	}
	_ = tw.Flush()
}
