// Package authz is the profile rule table of the domain brief, as data, and
// the few functions that read it. Row visibility (ent privacy), field rules
// (the @section directive) and every mutation ask this table; nothing else
// decides what a profile may do.
package authz

import (
	"slices"

	"github.com/google/uuid"

	"passerelle/enums"
	"passerelle/viewer"
)

// Action is something a profile may be allowed to do.
type Action string

// Actions on a request, from the requesting side or a receiving unit.
const (
	CreateRequest    Action = "CREATE_REQUEST"
	ReadMedical      Action = "READ_MEDICAL"
	WriteMedical     Action = "WRITE_MEDICAL"
	ValidateMedical  Action = "VALIDATE_MEDICAL"
	ReadCareProject  Action = "READ_CARE_PROJECT"
	WriteCareProject Action = "WRITE_CARE_PROJECT"
	ReadAdminSocial  Action = "READ_ADMIN_SOCIAL"
	WriteAdminSocial Action = "WRITE_ADMIN_SOCIAL"
	SendRequest      Action = "SEND_REQUEST"
	ConfirmDispatch  Action = "CONFIRM_DISPATCH"
	WithdrawDispatch Action = "WITHDRAW_DISPATCH"
	CancelRequest    Action = "CANCEL_REQUEST"
	PostMessage      Action = "POST_MESSAGE"
	RecordAdmission  Action = "RECORD_ADMISSION"

	OpenDispatch       Action = "OPEN_DISPATCH"
	AskInformation     Action = "ASK_INFORMATION"
	AnswerDispatch     Action = "ANSWER_DISPATCH"
	RecordNonAdmission Action = "RECORD_NON_ADMISSION"
	UpdateAvailability Action = "UPDATE_AVAILABILITY"

	ManageAccounts   Action = "MANAGE_ACCOUNTS"
	UpdateSheets     Action = "UPDATE_SHEETS"
	CreateStructures Action = "CREATE_STRUCTURES"
	ViewStatistics   Action = "VIEW_STATISTICS"
)

// Side says on which side of a request a profile acts.
type Side int

const (
	// NoSide profiles never touch patient data.
	NoSide Side = iota
	// Requesting profiles act on the requests of their structure (or unit).
	Requesting
	// Receiving profiles act on the dispatches to their unit.
	Receiving
)

// Scope says where a profile's administrative actions apply.
type Scope int

const (
	// OwnStructure: the structure of the habilitation only.
	OwnStructure Scope = iota
	// Region: everywhere.
	Region
)

// Rule is one row of the profile table.
type Rule struct {
	Side    Side
	Scope   Scope
	Actions []Action
	// StructureKinds are the kinds of structure the profile may be granted on.
	StructureKinds []enums.StructureKind
	// NeedsUSPUnit: the grant must name a USP unit, or be on a USP structure.
	NeedsUSPUnit bool
}

var careStructures = []enums.StructureKind{
	enums.StructureKindMco, enums.StructureKindSmr, enums.StructureKindHad,
	enums.StructureKindUsp, enums.StructureKindUsld, enums.StructureKindEmsp,
}

var medicoSocial = []enums.StructureKind{enums.StructureKindDac, enums.StructureKindEhpad}

var prescriber = []Action{
	CreateRequest, ReadMedical, WriteMedical, ValidateMedical, ReadCareProject, WriteCareProject,
	ReadAdminSocial, WriteAdminSocial, SendRequest, ConfirmDispatch, WithdrawDispatch, CancelRequest,
	PostMessage, RecordAdmission,
}

// without returns actions minus the removed ones.
func without(actions []Action, removed ...Action) []Action {
	return slices.DeleteFunc(slices.Clone(actions), func(a Action) bool { return slices.Contains(removed, a) })
}

// Table is the profile rule table of the domain brief.
var Table = map[enums.Profile]Rule{
	enums.ProfilePrescriberPhysician: {Side: Requesting, Actions: prescriber, StructureKinds: careStructures},
	enums.ProfileCareTeam: {Side: Requesting, Actions: without(prescriber, ValidateMedical),
		StructureKinds: careStructures},
	enums.ProfileAdminSocialManager: {Side: Requesting,
		Actions:        without(prescriber, ReadMedical, WriteMedical, ValidateMedical, WriteCareProject),
		StructureKinds: careStructures},
	enums.ProfileCoordinatingPhysician: {Side: Requesting, Actions: prescriber, StructureKinds: medicoSocial},
	enums.ProfileNonMedicalManager: {Side: Requesting, Actions: without(prescriber, WriteMedical, ValidateMedical),
		StructureKinds: medicoSocial},
	enums.ProfileLiberalPhysician: {Side: Requesting, Actions: prescriber,
		StructureKinds: []enums.StructureKind{enums.StructureKindLiberalPractice}},
	enums.ProfileStructureReferent: {Actions: []Action{ManageAccounts, UpdateSheets, UpdateAvailability, ViewStatistics},
		StructureKinds: append(slices.Clone(careStructures), enums.StructureKindLiberalPractice)},
	enums.ProfileSocialOrgReferent: {Actions: []Action{ManageAccounts, UpdateSheets, UpdateAvailability, ViewStatistics},
		StructureKinds: medicoSocial},
	enums.ProfileReceiverPhysician: {Side: Receiving, NeedsUSPUnit: true, StructureKinds: careStructures,
		Actions: []Action{ReadMedical, ReadCareProject, ReadAdminSocial, OpenDispatch, AskInformation, PostMessage,
			AnswerDispatch, RecordAdmission, RecordNonAdmission, UpdateAvailability}},
	enums.ProfileReceiverStaff: {Side: Receiving, NeedsUSPUnit: true, StructureKinds: careStructures,
		Actions: []Action{ReadCareProject, ReadAdminSocial, OpenDispatch, AskInformation, PostMessage,
			RecordAdmission, RecordNonAdmission, UpdateAvailability}},
	enums.ProfileRegionalSupport: {Scope: Region, Actions: []Action{CreateStructures, ManageAccounts, UpdateSheets},
		StructureKinds: []enums.StructureKind{enums.StructureKindRegionalSupport}},
	enums.ProfileObserver: {Scope: Region, Actions: []Action{ViewStatistics},
		StructureKinds: []enums.StructureKind{enums.StructureKindAuthority}},
}

// Allows reports whether the profile's row grants the action.
func Allows(p enums.Profile, a Action) bool { return slices.Contains(Table[p].Actions, a) }

// SideOf returns the side of a profile.
func SideOf(p enums.Profile) Side { return Table[p].Side }

// RequestScope is what decides a viewer's rights on one request: where it
// comes from and the units it was dispatched to.
type RequestScope struct {
	OriginStructure uuid.UUID
	OriginUnit      *uuid.UUID
	DispatchedUnits []uuid.UUID
}

// requestingHabilitationCovers reports whether a requesting habilitation
// covers a request of that origin (narrowed to its unit when unit-scoped).
func requestingHabilitationCovers(h viewer.Habilitation, s RequestScope) bool {
	if h.StructureID != s.OriginStructure {
		return false
	}
	return h.UnitID == nil || (s.OriginUnit != nil && *h.UnitID == *s.OriginUnit)
}

// RequestingCovers reports whether a habilitation acts on the requesting
// side of a request of that origin (the rule OnRequest applies; the e-mail
// notifications choose their recipients with it).
func RequestingCovers(h viewer.Habilitation, s RequestScope) bool {
	return Table[h.Profile].Side == Requesting && requestingHabilitationCovers(h, s)
}

// ReceivingCovers reports whether a habilitation acts for a receiving unit:
// granted on that unit, or on its structure when the unit is a USP unit
// (a structure-wide receiver receives for every USP unit of its structure,
// as the viewer's ReceivesFor says once resolved at sign-in).
func ReceivingCovers(h viewer.Habilitation, unitID, unitStructure uuid.UUID, unitKind enums.UnitKind) bool {
	if Table[h.Profile].Side != Receiving {
		return false
	}
	if h.UnitID != nil {
		return *h.UnitID == unitID
	}
	return h.StructureID == unitStructure && unitKind == enums.UnitKindUsp
}

// OnRequest returns the union of the actions the viewer's habilitations give
// on a request. receiving is the subset given through a dispatched unit.
func OnRequest(v *viewer.Viewer, s RequestScope) (all map[Action]bool, receiving map[Action]bool) {
	all, receiving = map[Action]bool{}, map[Action]bool{}
	if v == nil {
		return all, receiving
	}
	for _, h := range v.Habilitations {
		rule := Table[h.Profile]
		switch rule.Side {
		case Requesting:
			if requestingHabilitationCovers(h, s) {
				for _, a := range rule.Actions {
					all[a] = true
				}
			}
		case Receiving:
			if receivesAny(v, h, s.DispatchedUnits) {
				for _, a := range rule.Actions {
					all[a] = true
					receiving[a] = true
				}
			}
		}
	}
	return all, receiving
}

// OnDispatch returns the actions a viewer holds on one dispatch, split by
// side: the requesting side of its request, or the receiving unit.
func OnDispatch(v *viewer.Viewer, s RequestScope, unitID uuid.UUID) (requesting, receiving map[Action]bool) {
	requesting, receiving = map[Action]bool{}, map[Action]bool{}
	if v == nil {
		return requesting, receiving
	}
	for _, h := range v.Habilitations {
		rule := Table[h.Profile]
		switch {
		case rule.Side == Requesting && requestingHabilitationCovers(h, s):
			for _, a := range rule.Actions {
				requesting[a] = true
			}
		case rule.Side == Receiving && receivesAny(v, h, []uuid.UUID{unitID}):
			for _, a := range rule.Actions {
				receiving[a] = true
			}
		}
	}
	return requesting, receiving
}

// receivesAny reports whether a receiving habilitation covers one of the units.
func receivesAny(v *viewer.Viewer, h viewer.Habilitation, units []uuid.UUID) bool {
	for _, u := range units {
		if h.UnitID != nil {
			if *h.UnitID == u {
				return true
			}
			continue
		}
		// Structure-wide: the viewer's resolved receiving units include the
		// structure's USP units.
		if v.ReceivesFor(u) {
			return true
		}
	}
	return false
}

// CanCreateRequestFor reports whether the viewer may create a request with
// that origin.
func CanCreateRequestFor(v *viewer.Viewer, structureID uuid.UUID, unitID *uuid.UUID) bool {
	all, _ := OnRequest(v, RequestScope{OriginStructure: structureID, OriginUnit: unitID})
	return all[CreateRequest]
}

// CanAdminister reports whether the viewer may take an administrative action
// (accounts, sheets, availability, statistics) on a structure (and unit).
func CanAdminister(v *viewer.Viewer, a Action, structureID uuid.UUID) bool {
	if v == nil {
		return false
	}
	for _, h := range v.Habilitations {
		if AdministersWith(h, a, structureID) {
			return true
		}
	}
	return false
}

// AdministersWith reports whether one habilitation gives the administrative
// action a on a structure: its profile has the action (receiving profiles'
// bed availability is their unit's, not the structure's) and it is granted
// there, or region-wide.
func AdministersWith(h viewer.Habilitation, a Action, structureID uuid.UUID) bool {
	rule := Table[h.Profile]
	if !slices.Contains(rule.Actions, a) || rule.Side == Receiving {
		return false
	}
	return rule.Scope == Region || h.StructureID == structureID
}

// ScopeOf returns where a profile's administrative actions apply.
func ScopeOf(p enums.Profile) Scope { return Table[p].Scope }

// AnyProfileAllows reports whether one of the viewer's habilitations has a
// profile with the action, on some request or structure: a necessary
// condition, for refusing early what no scope can allow.
func AnyProfileAllows(v *viewer.Viewer, a Action) bool {
	if v == nil {
		return false
	}
	for _, h := range v.Habilitations {
		if Allows(h.Profile, a) {
			return true
		}
	}
	return false
}

// CanAdministerAnywhere reports whether the viewer holds the action for the
// whole region.
func CanAdministerAnywhere(v *viewer.Viewer, a Action) bool {
	if v == nil {
		return false
	}
	for _, h := range v.Habilitations {
		if rule := Table[h.Profile]; rule.Scope == Region && slices.Contains(rule.Actions, a) {
			return true
		}
	}
	return false
}

// AdministeredStructures returns the structures where the viewer holds the
// action through a structure-scoped profile (Region scope is reported apart).
func AdministeredStructures(v *viewer.Viewer, a Action) []uuid.UUID {
	var out []uuid.UUID
	if v == nil {
		return out
	}
	for _, h := range v.Habilitations {
		rule := Table[h.Profile]
		if rule.Side != Receiving && rule.Scope == OwnStructure && slices.Contains(rule.Actions, a) {
			out = append(out, h.StructureID)
		}
	}
	return out
}

// FitsStructure reports whether a profile may be granted on a structure of
// that kind (and, for receiving profiles, whether the unit is a USP unit or
// the structure a USP one). It returns a French-free English reason when not.
func FitsStructure(p enums.Profile, kind enums.StructureKind, unitKind *enums.UnitKind) (bool, string) {
	rule, ok := Table[p]
	if !ok {
		return false, "unknown profile"
	}
	if !slices.Contains(rule.StructureKinds, kind) {
		return false, string(p) + " cannot be granted on a structure of kind " + string(kind)
	}
	if rule.NeedsUSPUnit {
		if unitKind != nil && *unitKind != enums.UnitKindUsp {
			return false, string(p) + " can only be granted on a USP unit"
		}
		if unitKind == nil && kind != enums.StructureKindUsp {
			return false, string(p) + " needs a USP unit (or a USP structure)"
		}
	}
	if !rule.NeedsUSPUnit && rule.Side == NoSide && unitKind != nil && rule.Scope == Region {
		return false, string(p) + " applies to the whole region, not to a unit"
	}
	return true, ""
}

// OnVisibleRequest is OnRequest for a request the row rules already let the
// viewer see. Visibility comes from the requesting side or from a dispatch to
// one of the viewer's units, so a viewer not on the requesting side whose
// receiving habilitations all grant the same actions needs no look-up of the
// dispatches; dispatched is called only in the other, rare, cases.
func OnVisibleRequest(v *viewer.Viewer, s RequestScope, dispatched func() ([]uuid.UUID, error)) (map[Action]bool, error) {
	var receiving []Action
	uniform, requesting := true, false
	for _, h := range v.Habilitations {
		rule := Table[h.Profile]
		switch {
		case rule.Side == Requesting && requestingHabilitationCovers(h, s):
			requesting = true
		case rule.Side == Receiving && receiving == nil:
			receiving = rule.Actions
		case rule.Side == Receiving:
			uniform = uniform && slices.Equal(rule.Actions, receiving)
		}
	}
	if receiving == nil {
		all, _ := OnRequest(v, s)
		return all, nil
	}
	if !requesting && uniform {
		all := map[Action]bool{}
		for _, a := range receiving {
			all[a] = true
		}
		return all, nil
	}
	units, err := dispatched()
	if err != nil {
		return nil, err
	}
	s.DispatchedUnits = units
	all, _ := OnRequest(v, s)
	return all, nil
}
