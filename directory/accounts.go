package directory

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/habilitation"
	"passerelle/ent/unit"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/viewer"
)

// UserInput creates an account, with its first habilitation. A referent must
// give one on their structure; regional support may create an account without.
// Habilitation.UserID is ignored (the account is new).
type UserInput struct {
	Email, FirstName, LastName string
	Profession, Phone, RPPS    *string
	Habilitation               *GrantInput
}

// GrantInput grants a profile on a structure (optionally one of its units).
// ValidFrom defaults to now; EmailNotifications to false.
type GrantInput struct {
	UserID             uuid.UUID
	StructureID        uuid.UUID
	UnitID             *uuid.UUID
	Profile            enums.Profile
	ValidFrom          *time.Time
	ValidUntil         time.Time
	EmailNotifications *bool
}

// NewAccount is a created account with its one-time set-up token: the new
// user sets their own password with it at first sign-in.
type NewAccount struct {
	User                *ent.User
	SetupToken          string
	SetupTokenExpiresAt time.Time
}

// Headcount is, for one profile, how many people hold it now on a structure.
type Headcount struct {
	Profile      enums.Profile
	Holders      int
	Understaffed bool // fewer than two holders
}

// MaxSearchResults bounds SearchUsers.
const MaxSearchResults = 100

// checkedGrant is a grant whose target and values were checked.
type checkedGrant struct {
	structure          *ent.Structure
	unitID             *uuid.UUID
	profile            enums.Profile
	validFrom          time.Time
	validUntil         time.Time
	emailNotifications bool
}

// checkGrant checks a grant's structure (the viewer administers accounts
// there, else NOT_FOUND), unit, profile and period. prefix is the path of
// the grant input ("input." or "input.habilitation.").
func (s *Service) checkGrant(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, in GrantInput, prefix string) (*checkedGrant, error) {
	st, err := structureFor(ctx, tx.Client(), v, authz.ManageAccounts, in.StructureID)
	if err != nil {
		return nil, err
	}
	g := &checkedGrant{structure: st, profile: in.Profile, emailNotifications: in.EmailNotifications != nil && *in.EmailNotifications}
	var unitKind *enums.UnitKind
	if in.UnitID != nil {
		un, err := unitFor(ctx, tx.Client(), *in.UnitID)
		if err != nil {
			return nil, err
		}
		if un.StructureID != st.ID {
			return nil, apperr.BadInput(prefix+"unitId", "the unit does not belong to the structure")
		}
		g.unitID, unitKind = &un.ID, &un.Kind
	}
	if !in.Profile.IsValid() {
		return nil, apperr.BadInput(prefix+"profile", "unknown profile %q", string(in.Profile))
	}
	if ok, why := authz.FitsStructure(in.Profile, st.Kind, unitKind); !ok {
		return nil, apperr.BadInput(prefix+"profile", "%s", why)
	}
	now := s.now()
	g.validFrom = now
	if in.ValidFrom != nil {
		g.validFrom = in.ValidFrom.UTC().Truncate(time.Microsecond)
	}
	if in.ValidUntil.IsZero() {
		return nil, apperr.BadInput(prefix+"validUntil", "validUntil is required: a habilitation has an end date")
	}
	g.validUntil = in.ValidUntil.UTC().Truncate(time.Microsecond)
	if !g.validUntil.After(g.validFrom) {
		return nil, apperr.BadInput(prefix+"validUntil", "validUntil must be after validFrom")
	}
	if limit := now.Add(s.cfg.MaxHabilitationDuration); g.validUntil.After(limit) {
		return nil, apperr.BadInput(prefix+"validUntil", "validUntil must be at most %s from now (%s at the latest)",
			durationText(s.cfg.MaxHabilitationDuration), limit.Format(time.RFC3339))
	}
	return g, nil
}

// durationText writes a duration in days (or hours when shorter than a day).
func durationText(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Minute).String()
	}
	if days := int(d / (24 * time.Hour)); days != 1 {
		return strconv.Itoa(days) + " days"
	}
	return "1 day"
}

// create writes a checked grant.
func (g *checkedGrant) create(ctx context.Context, tx *ent.Tx, userID uuid.UUID, grantedBy *uuid.UUID) (*ent.Habilitation, error) {
	return tx.Habilitation.Create().
		SetUserID(userID).
		SetStructureID(g.structure.ID).
		SetNillableUnitID(g.unitID).
		SetProfile(g.profile).
		SetValidFrom(g.validFrom).
		SetValidUntil(g.validUntil).
		SetNillableGrantedBy(grantedBy).
		SetEmailNotifications(g.emailNotifications).
		Save(viewer.AllowWrites(ctx))
}

// accountFields are the checked fields of a new account.
type accountFields struct {
	email, firstName, lastName string
	profession, phone, rpps    *string
}

func checkAccountFields(email, firstName, lastName string, profession, phone, rpps *string, prefix string) (*accountFields, error) {
	n, err := identity.ValidateEmail(email)
	if err != nil {
		return nil, identity.RenameField(err, prefix+"email")
	}
	f := &accountFields{email: n, firstName: trimmed(firstName), lastName: trimmed(lastName),
		profession: text(profession), phone: text(phone)}
	if err := checkText(prefix+"firstName", f.firstName, 100, true); err != nil {
		return nil, err
	}
	if err := checkText(prefix+"lastName", f.lastName, 100, true); err != nil {
		return nil, err
	}
	if f.profession != nil {
		if err := checkText(prefix+"profession", *f.profession, 100, false); err != nil {
			return nil, err
		}
	}
	if f.phone != nil {
		if err := checkText(prefix+"phone", *f.phone, 30, false); err != nil {
			return nil, err
		}
	}
	if rpps != nil && strings.TrimSpace(*rpps) != "" {
		if err := identity.ValidateRPPS(*rpps); err != nil {
			return nil, identity.RenameField(err, prefix+"rpps")
		}
		r := identity.NormalizeRPPS(*rpps)
		f.rpps = &r
	}
	return f, nil
}

func emailConflict() error {
	return apperr.New(apperr.Conflict, "an account with this e-mail address already exists")
}

// createAccount writes a user and issues their set-up token. The caller
// checked the rights.
func (s *Service) createAccount(ctx context.Context, tx *ent.Tx, f *accountFields) (*ent.User, error) {
	// The uniqueness of an e-mail address is checked over every account: row
	// rules hide from a referent the accounts they do not administer, which
	// would otherwise surface as an opaque constraint error.
	taken, err := tx.User.Query().Where(user.Email(f.email)).Exist(viewer.System(ctx))
	if err != nil {
		return nil, err
	}
	if taken {
		return nil, emailConflict()
	}
	c := tx.User.Create().SetEmail(f.email).SetFirstName(f.firstName).SetLastName(f.lastName).SetNillableRpps(f.rpps)
	// An account created by a demo account is demo data too: it signs in only
	// in demo mode, and the demo database stays reusable.
	if v := viewer.FromContext(ctx); v != nil {
		creator, err := tx.User.Get(viewer.System(ctx), v.UserID)
		if err != nil {
			return nil, err
		}
		c.SetDemo(creator.Demo)
	}
	setNonEmpty(f.profession, c.SetProfession)
	setNonEmpty(f.phone, c.SetPhone)
	u, err := c.Save(viewer.AllowWrites(ctx))
	if ent.IsConstraintError(err) {
		return nil, emailConflict()
	}
	return u, err
}

// CreateUser creates an account with a one-time set-up token (never a
// password). A referent must grant a habilitation on their own structure.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (*NewAccount, error) {
	v, err := requireAction(ctx, authz.ManageAccounts, "create accounts")
	if err != nil {
		return nil, err
	}
	if in.Habilitation == nil && !authz.CanAdministerAnywhere(v, authz.ManageAccounts) {
		return nil, apperr.BadInput("input.habilitation", "give the new account a habilitation on your structure")
	}
	var out NewAccount
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		var g *checkedGrant
		if in.Habilitation != nil {
			var err error
			if g, err = s.checkGrant(ctx, tx, v, *in.Habilitation, "input.habilitation."); err != nil {
				return err
			}
		}
		f, err := checkAccountFields(in.Email, in.FirstName, in.LastName, in.Profession, in.Phone, in.RPPS, "input.")
		if err != nil {
			return err
		}
		u, err := s.createAccount(ctx, tx, f)
		if err != nil {
			return err
		}
		if g != nil {
			if _, err := g.create(ctx, tx, u.ID, &v.UserID); err != nil {
				return err
			}
		}
		token, exp, err := s.auth.IssueSetupToken(ctx, tx.Client(), u.ID)
		if err != nil {
			return err
		}
		// Read back the account with its token fields set.
		if u, err = tx.User.Get(viewer.System(ctx), u.ID); err != nil {
			return err
		}
		out = NewAccount{User: u, SetupToken: token, SetupTokenExpiresAt: exp}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.User = out.User.Unwrap()
	return &out, nil
}

// Grant grants a habilitation to an existing account the viewer can see.
func (s *Service) Grant(ctx context.Context, in GrantInput) (*ent.Habilitation, error) {
	v, err := requireAction(ctx, authz.ManageAccounts, "grant habilitations")
	if err != nil {
		return nil, err
	}
	var out *ent.Habilitation
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		g, err := s.checkGrant(ctx, tx, v, in, "input.")
		if err != nil {
			return err
		}
		// With the viewer's context: an account the viewer may not see is
		// NOT_FOUND.
		u, err := tx.User.Get(ctx, in.UserID)
		if ent.IsNotFound(err) {
			return apperr.NotFoundError("user")
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			return apperr.New(apperr.Conflict, "the account is disabled")
		}
		out, err = g.create(ctx, tx, u.ID, &v.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// Revoke revokes a habilitation at once (the next request of its holder no
// longer has it).
func (s *Service) Revoke(ctx context.Context, habilitationID uuid.UUID) (*ent.Habilitation, error) {
	v, err := requireAction(ctx, authz.ManageAccounts, "revoke habilitations")
	if err != nil {
		return nil, err
	}
	return s.changeHabilitation(ctx, v, habilitationID, false, "the habilitation is already revoked",
		func(tx *ent.Tx, h *ent.Habilitation) error {
			// Conditional update: of two concurrent revocations, one wins.
			n, err := tx.Habilitation.Update().
				Where(habilitation.ID(h.ID), habilitation.RevokedAtIsNil()).
				SetRevokedAt(s.now()).SetRevokedBy(v.UserID).
				Save(viewer.AllowWrites(ctx))
			if err != nil {
				return err
			}
			if n != 1 {
				return apperr.New(apperr.Conflict, "the habilitation is already revoked")
			}
			return nil
		})
}

// SetEmailNotifications switches the e-mail notifications of a
// habilitation on or off: its holder may, and whoever manages the accounts
// of its structure. Anyone else gets NOT_FOUND; a revoked habilitation
// CONFLICT.
func (s *Service) SetEmailNotifications(ctx context.Context, habilitationID uuid.UUID, on bool) (*ent.Habilitation, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	return s.changeHabilitation(ctx, v, habilitationID, true, "the habilitation is revoked",
		func(tx *ent.Tx, h *ent.Habilitation) error {
			return tx.Habilitation.UpdateOneID(h.ID).SetEmailNotifications(on).Exec(viewer.AllowWrites(ctx))
		})
}

// changeHabilitation applies change, in one transaction, to a habilitation
// the viewer may change (habilitationFor) that is not revoked (else
// CONFLICT with revoked), and returns it as changed.
func (s *Service) changeHabilitation(ctx context.Context, v *viewer.Viewer, id uuid.UUID, holder bool, revoked string,
	change func(*ent.Tx, *ent.Habilitation) error) (*ent.Habilitation, error) {
	var out *ent.Habilitation
	err := s.inTx(ctx, func(tx *ent.Tx) error {
		h, err := habilitationFor(ctx, tx, v, id, holder)
		if err != nil {
			return err
		}
		if h.RevokedAt != nil {
			return apperr.New(apperr.Conflict, "%s", revoked)
		}
		if err := change(tx, h); err != nil {
			return err
		}
		out, err = tx.Habilitation.Get(ctx, h.ID)
		return err
	})
	if err != nil {
		return nil, mapError(err)
	}
	return out.Unwrap(), nil
}

// habilitationFor loads a habilitation the viewer may change: one of a
// structure where they manage accounts, or, with holder, their own. Row
// rules show a referent their own habilitations and those of the
// structures they administer; the rule table then decides. Anything else
// is NOT_FOUND.
func habilitationFor(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, id uuid.UUID, holder bool) (*ent.Habilitation, error) {
	h, err := tx.Habilitation.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundError("habilitation")
	}
	if err != nil {
		return nil, err
	}
	if !(holder && h.UserID == v.UserID) && !authz.CanAdminister(v, authz.ManageAccounts, h.StructureID) {
		return nil, apperr.NotFoundError("habilitation")
	}
	return h, nil
}

// accountFor loads an account the viewer administers: regional support any
// account; a referent an account holding a (not revoked) habilitation on a
// structure where they manage accounts. Anything else is NOT_FOUND.
func accountFor(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, userID uuid.UUID) (*ent.User, error) {
	// Viewer context: an account hidden by the row rules is NOT_FOUND.
	u, err := tx.User.Get(ctx, userID)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundError("user")
	}
	if err != nil {
		return nil, err
	}
	if authz.CanAdministerAnywhere(v, authz.ManageAccounts) {
		return u, nil
	}
	structures := authz.AdministeredStructures(v, authz.ManageAccounts)
	// Row rules show a referent the habilitations of their structures.
	held, err := tx.Habilitation.Query().
		Where(habilitation.UserID(u.ID), habilitation.StructureIDIn(structures...), habilitation.RevokedAtIsNil()).
		Exist(ctx)
	if err != nil {
		return nil, err
	}
	if !held {
		return nil, apperr.NotFoundError("user")
	}
	return u, nil
}

// DisableUser disables an account and ends its sessions.
func (s *Service) DisableUser(ctx context.Context, userID uuid.UUID) (*ent.User, error) {
	v, err := requireAction(ctx, authz.ManageAccounts, "disable accounts")
	if err != nil {
		return nil, err
	}
	if userID == v.UserID {
		return nil, apperr.BadInput("userId", "you cannot disable your own account")
	}
	var out *ent.User
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		u, err := accountFor(ctx, tx, v, userID)
		if err != nil {
			return err
		}
		if u.Disabled {
			return apperr.New(apperr.Conflict, "the account is already disabled")
		}
		w := viewer.AllowWrites(ctx)
		n, err := tx.User.Update().Where(user.ID(u.ID), user.Disabled(false)).
			SetDisabled(true).SetDisabledAt(s.now()).
			ClearSetupTokenHash().ClearSetupTokenExpiresAt().
			Save(w)
		if err != nil {
			return err
		}
		if n != 1 {
			return apperr.New(apperr.Conflict, "the account is already disabled")
		}
		if err := s.auth.RevokeSessions(ctx, tx.Client(), u.ID); err != nil {
			return err
		}
		out, err = tx.User.Get(ctx, u.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// IssuePasswordReset gives an account a new one-time set-up token, to hand
// to its holder. A referent may do it only for an account whose current
// habilitations all lie in structures they administer: the token lets its
// bearer sign in as the account, so it must not reach rights elsewhere.
func (s *Service) IssuePasswordReset(ctx context.Context, userID uuid.UUID) (token string, expires time.Time, err error) {
	v, err := requireAction(ctx, authz.ManageAccounts, "reset passwords")
	if err != nil {
		return "", time.Time{}, err
	}
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		u, err := accountFor(ctx, tx, v, userID)
		if err != nil {
			return err
		}
		if !authz.CanAdministerAnywhere(v, authz.ManageAccounts) {
			// System context: the row rules hide the habilitations the
			// account holds elsewhere, which are exactly what must be seen.
			now := s.now()
			elsewhere, err := tx.Habilitation.Query().
				Where(habilitation.UserID(u.ID), habilitation.RevokedAtIsNil(), habilitation.ValidUntilGT(now),
					habilitation.StructureIDNotIn(authz.AdministeredStructures(v, authz.ManageAccounts)...)).
				Exist(viewer.System(ctx))
			if err != nil {
				return err
			}
			if elsewhere {
				return apperr.New(apperr.Forbidden,
					"this account also holds habilitations in other structures; ask regional support to reset its password")
			}
		}
		if u.Disabled {
			return apperr.New(apperr.Conflict, "the account is disabled")
		}
		token, expires, err = s.auth.IssueSetupToken(ctx, tx.Client(), u.ID)
		return err
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// SearchUsers lists the accounts holding a (not revoked) habilitation on a
// structure whose first name, last name or e-mail contains the query (case
// and accents ignored; empty = all), ordered by last name, at most
// MaxSearchResults.
func (s *Service) SearchUsers(ctx context.Context, structureID uuid.UUID, query string) ([]*ent.User, error) {
	v, err := requireAction(ctx, authz.ManageAccounts, "search accounts")
	if err != nil {
		return nil, err
	}
	st, err := structureFor(ctx, s.client, v, authz.ManageAccounts, structureID)
	if err != nil {
		return nil, mapError(err)
	}
	users, err := s.client.User.Query().
		Where(user.HasHabilitationsWith(habilitation.StructureID(st.ID), habilitation.RevokedAtIsNil())).
		Order(ent.Asc(user.FieldLastName), ent.Asc(user.FieldFirstName), ent.Asc(user.FieldEmail)).
		All(ctx)
	if err != nil {
		return nil, mapError(err)
	}
	q := strings.TrimSpace(query)
	if q == "" {
		if len(users) > MaxSearchResults {
			users = users[:MaxSearchResults]
		}
		return users, nil
	}
	nameKey, emailKey := identity.FoldName(q), strings.ToLower(q)
	out := make([]*ent.User, 0, min(len(users), MaxSearchResults))
	for _, u := range users {
		if matches(u, nameKey, emailKey) {
			out = append(out, u)
			if len(out) == MaxSearchResults {
				break
			}
		}
	}
	return out, nil
}

// matches reports whether a query matches an account's names or e-mail.
func matches(u *ent.User, nameKey, emailKey string) bool {
	if emailKey != "" && strings.Contains(u.Email, emailKey) {
		return true
	}
	if nameKey == "" {
		return false
	}
	first, last := identity.FoldName(u.FirstName), identity.FoldName(u.LastName)
	return strings.Contains(first, nameKey) || strings.Contains(last, nameKey) ||
		strings.Contains(first+" "+last, nameKey) || strings.Contains(last+" "+first, nameKey)
}

// Staffing tells, for each profile that fits the structure (its kind, and
// its units' kinds for the profiles granted on a unit), how many distinct
// people hold it now; fewer than two is flagged.
func (s *Service) Staffing(ctx context.Context, structureID uuid.UUID) ([]Headcount, error) {
	v, err := requireAction(ctx, authz.ManageAccounts, "see staffing")
	if err != nil {
		return nil, err
	}
	st, err := structureFor(ctx, s.client, v, authz.ManageAccounts, structureID)
	if err != nil {
		return nil, mapError(err)
	}
	unitKinds, err := s.client.Unit.Query().Where(unit.StructureID(st.ID)).Unique(true).
		Select(unit.FieldKind).Strings(ctx)
	if err != nil {
		return nil, mapError(err)
	}
	now := s.now()
	habs, err := s.client.Habilitation.Query().
		Where(habilitation.StructureID(st.ID), habilitation.RevokedAtIsNil(),
			habilitation.ValidFromLTE(now), habilitation.ValidUntilGT(now),
			habilitation.HasUserWith(user.Disabled(false))).
		All(ctx)
	if err != nil {
		return nil, mapError(err)
	}
	holders := map[enums.Profile]map[uuid.UUID]bool{}
	for _, h := range habs {
		if holders[h.Profile] == nil {
			holders[h.Profile] = map[uuid.UUID]bool{}
		}
		holders[h.Profile][h.UserID] = true
	}
	var out []Headcount
	for _, p := range enums.ProfileValues {
		if !profileFits(p, st.Kind, unitKinds) {
			continue
		}
		n := len(holders[p])
		out = append(out, Headcount{Profile: p, Holders: n, Understaffed: n < 2})
	}
	return out, nil
}

// profileFits reports whether a profile may be granted on the structure
// itself or on one of its units.
func profileFits(p enums.Profile, kind enums.StructureKind, unitKinds []string) bool {
	if ok, _ := authz.FitsStructure(p, kind, nil); ok {
		return true
	}
	return slices.ContainsFunc(unitKinds, func(k string) bool {
		uk := enums.UnitKind(k)
		ok, _ := authz.FitsStructure(p, kind, &uk)
		return ok
	})
}

// ExpiryNotice is how long before its end a habilitation is flagged to the
// referents of its structure (the domain: 15 days), so that they renew it
// or let it end knowingly.
const ExpiryNotice = 15 * 24 * time.Hour

// ExpiresSoon says whether h is valid now and ends within ExpiryNotice.
func (s *Service) ExpiresSoon(h *ent.Habilitation) bool {
	return ExpiresSoonAt(h, s.now())
}

// ExpiresSoonAt says whether h is valid at now and ends within ExpiryNotice
// of it (the one rule: the flag, the referents' list, their e-mails).
func ExpiresSoonAt(h *ent.Habilitation, now time.Time) bool {
	return h.RevokedAt == nil && !h.ValidFrom.After(now) && h.ValidUntil.After(now) &&
		!h.ValidUntil.After(now.Add(ExpiryNotice))
}

// ExpiringHabilitations lists the habilitations of a structure that are
// valid now and end within ExpiryNotice, soonest first, for the referents
// who see its staffing: the same rule as Staffing (a disabled account's
// habilitations give nothing and are left out).
func (s *Service) ExpiringHabilitations(ctx context.Context, structureID uuid.UUID) ([]*ent.Habilitation, error) {
	v, err := requireAction(ctx, authz.ManageAccounts, "see expiring habilitations")
	if err != nil {
		return nil, err
	}
	st, err := structureFor(ctx, s.client, v, authz.ManageAccounts, structureID)
	if err != nil {
		return nil, mapError(err)
	}
	// The structure's grants of enabled accounts, ending soonest first; the
	// rule itself is ExpiresSoonAt's (one place), the bounds on validUntil
	// only keep the read short (ended grants pile up over the years).
	now := s.now()
	habs, err := s.client.Habilitation.Query().
		Where(habilitation.StructureID(st.ID),
			habilitation.ValidUntilGT(now), habilitation.ValidUntilLTE(now.Add(ExpiryNotice)),
			habilitation.HasUserWith(user.Disabled(false))).
		Order(ent.Asc(habilitation.FieldValidUntil), ent.Asc(habilitation.FieldID)).
		All(ctx)
	if err != nil {
		return nil, mapError(err)
	}
	return slices.DeleteFunc(habs, func(h *ent.Habilitation) bool { return !ExpiresSoonAt(h, now) }), nil
}
