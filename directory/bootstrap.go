package directory

import (
	"context"
	"fmt"

	"passerelle/apperr"
	"passerelle/ent"
	"passerelle/ent/habilitation"
	"passerelle/ent/structure"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/viewer"
)

// BootstrapStructureName is the name of the structure that holds the first
// regional support account of a real install.
const BootstrapStructureName = "Support régional"

// The FINESS number of that structure: "75000000" and its check digit, or
// the next sequence numbers when it is taken.
const (
	bootstrapDepartment   = "75"
	bootstrapFirstFINESS  = 0 // "75" + "000000"
	bootstrapFINESSTrials = 1000
)

// Bootstrap creates the first regional support account of a real install
// (a CLI command; no viewer): the "Support régional" structure when missing,
// the account, a REGIONAL_SUPPORT habilitation for MaxHabilitationDuration,
// and a one-time set-up token to print. It refuses (CONFLICT) once a real
// (non-demo) account holds a current regional support habilitation.
func (s *Service) Bootstrap(ctx context.Context, email, firstName, lastName string) (*NewAccount, error) {
	// The CLI acts for the system: nobody is signed in yet.
	ctx = viewer.AllowWrites(viewer.System(ctx))
	f, err := checkAccountFields(email, firstName, lastName, nil, nil, nil, "")
	if err != nil {
		return nil, mapError(err)
	}
	var out NewAccount
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		now := s.now()
		exists, err := tx.Habilitation.Query().
			Where(habilitation.ProfileEQ(enums.ProfileRegionalSupport),
				habilitation.RevokedAtIsNil(), habilitation.ValidUntilGT(now),
				habilitation.HasUserWith(user.Demo(false), user.Disabled(false))).
			Exist(ctx)
		if err != nil {
			return err
		}
		if exists {
			return apperr.New(apperr.Conflict,
				"a regional support account exists already; it creates the other accounts")
		}
		st, err := s.bootstrapStructure(ctx, tx)
		if err != nil {
			return err
		}
		u, err := s.createAccount(ctx, tx, f)
		if err != nil {
			return err
		}
		_, err = tx.Habilitation.Create().
			SetUserID(u.ID).SetStructureID(st.ID).SetProfile(enums.ProfileRegionalSupport).
			SetValidFrom(now).SetValidUntil(now.Add(s.cfg.MaxHabilitationDuration)).
			Save(ctx)
		if err != nil {
			return err
		}
		token, exp, err := s.auth.IssueSetupToken(ctx, tx.Client(), u.ID)
		if err != nil {
			return err
		}
		if u, err = tx.User.Get(ctx, u.ID); err != nil {
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

// bootstrapStructure returns the regional support structure, creating it
// with a valid FINESS number that no other structure uses.
func (s *Service) bootstrapStructure(ctx context.Context, tx *ent.Tx) (*ent.Structure, error) {
	st, err := tx.Structure.Query().
		Where(structure.KindEQ(enums.StructureKindRegionalSupport), structure.Name(BootstrapStructureName)).
		Order(ent.Asc(structure.FieldCreatedAt)).First(ctx)
	if err == nil {
		return st, nil
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	for i := bootstrapFirstFINESS; i < bootstrapFirstFINESS+bootstrapFINESSTrials; i++ {
		first8 := fmt.Sprintf("%s%06d", bootstrapDepartment, i)
		d, err := identity.FINESSCheckDigit(first8)
		if err != nil {
			return nil, err
		}
		finess := first8 + string(d)
		taken, err := tx.Structure.Query().Where(structure.Finess(finess)).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if taken {
			continue
		}
		return tx.Structure.Create().SetFiness(finess).SetName(BootstrapStructureName).
			SetKind(enums.StructureKindRegionalSupport).SetDepartment(bootstrapDepartment).Save(ctx)
	}
	return nil, fmt.Errorf("directory: no free FINESS number for the regional support structure")
}
