package directory

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/structure"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/viewer"
)

// StructureInput creates a structure. Optional texts may be nil or empty.
type StructureInput struct {
	Finess, Name                                      string
	Kind                                              enums.StructureKind
	Department                                        string
	Address, PostalCode, City, Phone, Email, Contacts *string
}

// StructurePatch updates a structure sheet: nil leaves a field unchanged; an
// empty string clears an optional one (Name and Department cannot be cleared).
type StructurePatch struct {
	Name, Department, Address, PostalCode, City, Phone, Email, Contacts *string
}

// UnitInput creates a unit.
type UnitInput struct {
	StructureID                                 uuid.UUID
	Name                                        string
	Kind                                        enums.UnitKind
	Capacity                                    *int
	AcceptingRequests                           *bool
	AdmissionCriteria, AdmissionHours, Contacts *string
}

// UnitPatch updates a unit sheet: nil leaves a field unchanged; an empty
// string clears an optional text.
type UnitPatch struct {
	Name                                        *string
	Capacity                                    *int
	AdmissionCriteria, AdmissionHours, Contacts *string
}

// structureFields are the checked optional fields of a structure sheet.
type structureFields struct {
	address, postalCode, city, phone, email, contacts *string
}

// checkStructureFields trims and checks the optional fields of a sheet
// (nil = not given, "" = clear).
func checkStructureFields(address, postalCode, city, phone, email, contacts *string) (structureFields, error) {
	f := structureFields{
		address: text(address), postalCode: text(postalCode), city: text(city),
		phone: text(phone), email: text(email), contacts: text(contacts),
	}
	checks := []struct {
		field string
		v     *string
		max   int
	}{
		{"input.address", f.address, 300}, {"input.postalCode", f.postalCode, 10}, {"input.city", f.city, 100},
		{"input.phone", f.phone, 30}, {"input.contacts", f.contacts, 2000},
	}
	for _, c := range checks {
		if c.v != nil {
			if err := checkText(c.field, *c.v, c.max, false); err != nil {
				return f, err
			}
		}
	}
	if f.postalCode != nil && *f.postalCode != "" && !postalCodeRE.MatchString(*f.postalCode) {
		return f, apperr.BadInput("input.postalCode", "postal code must be 5 digits")
	}
	if f.email != nil && *f.email != "" {
		n, err := identity.ValidateEmail(*f.email)
		if err != nil {
			return f, identity.RenameField(err, "input.email")
		}
		f.email = &n
	}
	return f, nil
}

// CreateStructure creates a structure (regional support only).
func (s *Service) CreateStructure(ctx context.Context, in StructureInput) (*ent.Structure, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !authz.CanAdministerAnywhere(v, authz.CreateStructures) {
		return nil, forbidden("create structures")
	}
	if err := identity.ValidateFINESS(in.Finess); err != nil {
		return nil, identity.RenameField(err, "input.finess")
	}
	finess := identity.NormalizeFINESS(in.Finess)
	name := trimmed(in.Name)
	if err := checkText("input.name", name, 200, true); err != nil {
		return nil, err
	}
	if !in.Kind.IsValid() {
		return nil, apperr.BadInput("input.kind", "unknown structure kind %q", string(in.Kind))
	}
	dep, err := checkDepartment("input.department", in.Department)
	if err != nil {
		return nil, err
	}
	f, err := checkStructureFields(in.Address, in.PostalCode, in.City, in.Phone, in.Email, in.Contacts)
	if err != nil {
		return nil, err
	}

	var out *ent.Structure
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		// Structures are readable by any signed-in viewer: no row rule hides a
		// FINESS already taken.
		taken, err := tx.Structure.Query().Where(structure.Finess(finess)).Exist(ctx)
		if err != nil {
			return err
		}
		if taken {
			return finessConflict()
		}
		c := tx.Structure.Create().SetFiness(finess).SetName(name).SetKind(in.Kind).SetDepartment(dep)
		setNonEmpty(f.address, c.SetAddress)
		setNonEmpty(f.postalCode, c.SetPostalCode)
		setNonEmpty(f.city, c.SetCity)
		setNonEmpty(f.phone, c.SetPhone)
		setNonEmpty(f.email, c.SetEmail)
		setNonEmpty(f.contacts, c.SetContacts)
		out, err = c.Save(viewer.AllowWrites(ctx))
		if ent.IsConstraintError(err) {
			return finessConflict()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

func finessConflict() error {
	return apperr.New(apperr.Conflict, "a structure with this FINESS number already exists")
}

func trimmed(s string) string { t := text(&s); return *t }

// setNonEmpty calls set when v holds a non-empty value.
func setNonEmpty[B any](v *string, set func(string) B) {
	if v != nil && *v != "" {
		set(*v)
	}
}

// setOrClear calls set with a non-empty value, clear with an empty one, and
// nothing when v is nil.
func setOrClear[B, C any](v *string, set func(string) B, clear func() C) {
	switch {
	case v == nil:
	case *v == "":
		clear()
	default:
		set(*v)
	}
}

// structureFor loads a structure the viewer may act on with action a, or
// NOT_FOUND (unknown, or not one of theirs: the same answer).
func structureFor(ctx context.Context, client *ent.Client, v *viewer.Viewer, a authz.Action, id uuid.UUID) (*ent.Structure, error) {
	st, err := client.Structure.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundError("structure")
	}
	if err != nil {
		return nil, err
	}
	if !authz.CanAdminister(v, a, st.ID) {
		return nil, apperr.NotFoundError("structure")
	}
	return st, nil
}

// UpdateStructure updates the sheet of a structure (its referents, regional support).
func (s *Service) UpdateStructure(ctx context.Context, id uuid.UUID, p StructurePatch) (*ent.Structure, error) {
	v, err := requireAction(ctx, authz.UpdateSheets, "update structure sheets")
	if err != nil {
		return nil, err
	}
	var out *ent.Structure
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		if _, err := structureFor(ctx, tx.Client(), v, authz.UpdateSheets, id); err != nil {
			return err
		}
		u := tx.Structure.UpdateOneID(id)
		if p.Name != nil {
			name := trimmed(*p.Name)
			if err := checkText("input.name", name, 200, true); err != nil {
				return err
			}
			u.SetName(name)
		}
		if p.Department != nil {
			dep, err := checkDepartment("input.department", *p.Department)
			if err != nil {
				return err
			}
			u.SetDepartment(dep)
		}
		f, err := checkStructureFields(p.Address, p.PostalCode, p.City, p.Phone, p.Email, p.Contacts)
		if err != nil {
			return err
		}
		setOrClear(f.address, u.SetAddress, u.ClearAddress)
		setOrClear(f.postalCode, u.SetPostalCode, u.ClearPostalCode)
		setOrClear(f.city, u.SetCity, u.ClearCity)
		setOrClear(f.phone, u.SetPhone, u.ClearPhone)
		setOrClear(f.email, u.SetEmail, u.ClearEmail)
		setOrClear(f.contacts, u.SetContacts, u.ClearContacts)
		out, err = u.Save(viewer.AllowWrites(ctx))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// unitTexts checks the optional texts of a unit sheet.
func unitTexts(criteria, hours, contacts *string) (c, h, k *string, err error) {
	c, h, k = text(criteria), text(hours), text(contacts)
	for _, t := range []struct {
		field string
		v     *string
		max   int
	}{{"input.admissionCriteria", c, 4000}, {"input.admissionHours", h, 1000}, {"input.contacts", k, 2000}} {
		if t.v != nil {
			if err := checkText(t.field, *t.v, t.max, false); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return c, h, k, nil
}

// CreateUnit opens a unit in a structure: regional support anywhere, a
// referent in their own structure.
func (s *Service) CreateUnit(ctx context.Context, in UnitInput) (*ent.Unit, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	creator := authz.CanAdministerAnywhere(v, authz.CreateStructures)
	if !creator && !holdsAction(v, authz.UpdateSheets) {
		return nil, forbidden("create units")
	}
	var out *ent.Unit
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		st, err := tx.Structure.Get(ctx, in.StructureID)
		if ent.IsNotFound(err) {
			return apperr.NotFoundError("structure")
		}
		if err != nil {
			return err
		}
		if !creator && !authz.CanAdminister(v, authz.UpdateSheets, st.ID) {
			return apperr.NotFoundError("structure")
		}
		name := trimmed(in.Name)
		if err := checkText("input.name", name, 200, true); err != nil {
			return err
		}
		if !in.Kind.IsValid() {
			return apperr.BadInput("input.kind", "unknown unit kind %q", string(in.Kind))
		}
		if in.Capacity != nil && *in.Capacity < 0 {
			return apperr.BadInput("input.capacity", "capacity must be 0 or more")
		}
		if in.AcceptingRequests != nil && *in.AcceptingRequests && in.Kind != enums.UnitKindUsp {
			return apperr.BadInput("input.acceptingRequests", "only USP units accept admission requests")
		}
		crit, hours, contacts, err := unitTexts(in.AdmissionCriteria, in.AdmissionHours, in.Contacts)
		if err != nil {
			return err
		}
		c := tx.Unit.Create().SetStructureID(st.ID).SetName(name).SetKind(in.Kind).
			SetNillableCapacity(in.Capacity).SetNillableAcceptingRequests(in.AcceptingRequests)
		setNonEmpty(crit, c.SetAdmissionCriteria)
		setNonEmpty(hours, c.SetAdmissionHours)
		setNonEmpty(contacts, c.SetContacts)
		out, err = c.Save(viewer.AllowWrites(ctx))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// unitFor loads a unit (units are readable by any signed-in viewer).
func unitFor(ctx context.Context, client *ent.Client, id uuid.UUID) (*ent.Unit, error) {
	u, err := client.Unit.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundError("unit")
	}
	return u, err
}

// UpdateUnit updates the sheet of a unit (referents of its structure,
// regional support).
func (s *Service) UpdateUnit(ctx context.Context, id uuid.UUID, p UnitPatch) (*ent.Unit, error) {
	v, err := requireAction(ctx, authz.UpdateSheets, "update unit sheets")
	if err != nil {
		return nil, err
	}
	var out *ent.Unit
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		un, err := unitFor(ctx, tx.Client(), id)
		if err != nil {
			return err
		}
		if !authz.CanAdminister(v, authz.UpdateSheets, un.StructureID) {
			return apperr.NotFoundError("unit")
		}
		upd := tx.Unit.UpdateOneID(un.ID)
		if p.Name != nil {
			name := trimmed(*p.Name)
			if err := checkText("input.name", name, 200, true); err != nil {
				return err
			}
			upd.SetName(name)
		}
		if p.Capacity != nil {
			if *p.Capacity < 0 {
				return apperr.BadInput("input.capacity", "capacity must be 0 or more")
			}
			if un.AvailableBeds != nil && *un.AvailableBeds > *p.Capacity {
				return apperr.BadInput("input.capacity",
					"capacity (%d) is below the available beds declared (%d); update the availability first",
					*p.Capacity, *un.AvailableBeds)
			}
			upd.SetCapacity(*p.Capacity)
		}
		crit, hours, contacts, err := unitTexts(p.AdmissionCriteria, p.AdmissionHours, p.Contacts)
		if err != nil {
			return err
		}
		setOrClear(crit, upd.SetAdmissionCriteria, upd.ClearAdmissionCriteria)
		setOrClear(hours, upd.SetAdmissionHours, upd.ClearAdmissionHours)
		setOrClear(contacts, upd.SetContacts, upd.ClearContacts)
		out, err = upd.Save(viewer.AllowWrites(ctx))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// receivesForUnit reports whether the viewer receives for the unit through
// a receiving habilitation whose rule grants UpdateAvailability: one on that
// unit, or a structure-wide one on its structure (whose USP units the viewer's
// ReceivingUnits resolve).
func receivesForUnit(v *viewer.Viewer, un *ent.Unit) bool {
	if !v.ReceivesFor(un.ID) {
		return false
	}
	return slices.ContainsFunc(v.Habilitations, func(h viewer.Habilitation) bool {
		if authz.SideOf(h.Profile) != authz.Receiving || !authz.Allows(h.Profile, authz.UpdateAvailability) {
			return false
		}
		if h.UnitID != nil {
			return *h.UnitID == un.ID
		}
		return h.StructureID == un.StructureID
	})
}

// holdsAvailability reports whether the viewer may update availability somewhere.
func holdsAvailability(v *viewer.Viewer) bool {
	if holdsAction(v, authz.UpdateAvailability) {
		return true
	}
	return slices.ContainsFunc(v.Habilitations, func(h viewer.Habilitation) bool {
		return authz.SideOf(h.Profile) == authz.Receiving && authz.Allows(h.Profile, authz.UpdateAvailability)
	})
}

// UpdateAvailability declares a unit's available beds and/or whether it
// accepts requests, recording who and when: the referents of its structure
// and the unit's receivers.
func (s *Service) UpdateAvailability(ctx context.Context, unitID uuid.UUID, availableBeds *int, accepting *bool) (*ent.Unit, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !holdsAvailability(v) {
		return nil, forbidden("update bed availability")
	}
	var out *ent.Unit
	err = s.inTx(ctx, func(tx *ent.Tx) error {
		un, err := unitFor(ctx, tx.Client(), unitID)
		if err != nil {
			return err
		}
		if !authz.CanAdminister(v, authz.UpdateAvailability, un.StructureID) && !receivesForUnit(v, un) {
			return apperr.NotFoundError("unit")
		}
		if availableBeds == nil && accepting == nil {
			return apperr.BadInput("availableBeds", "give availableBeds or acceptingRequests")
		}
		if availableBeds != nil {
			switch {
			case un.Kind != enums.UnitKindUsp:
				return apperr.BadInput("availableBeds", "available beds are declared for USP units only")
			case *availableBeds < 0:
				return apperr.BadInput("availableBeds", "available beds must be 0 or more")
			case un.Capacity != nil && *availableBeds > *un.Capacity:
				return apperr.BadInput("availableBeds", "available beds (%d) cannot exceed the unit's capacity (%d)",
					*availableBeds, *un.Capacity)
			}
		}
		if accepting != nil && *accepting && un.Kind != enums.UnitKindUsp {
			return apperr.BadInput("acceptingRequests", "only USP units accept admission requests")
		}
		out, err = tx.Unit.UpdateOneID(un.ID).
			SetNillableAvailableBeds(availableBeds).
			SetNillableAcceptingRequests(accepting).
			SetAvailableBedsUpdatedAt(s.now()).
			SetAvailableBedsUpdatedBy(v.UserID).
			Save(viewer.AllowWrites(ctx))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}
