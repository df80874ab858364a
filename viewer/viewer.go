// Package viewer carries who is acting through a context: the signed-in
// user with the habilitations valid at the start of the request, or the
// system itself (migrations, demo data, background jobs).
package viewer

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"passerelle/enums"
)

// Habilitation is one valid grant, with what the rules need of its structure.
type Habilitation struct {
	ID            uuid.UUID
	Profile       enums.Profile
	StructureID   uuid.UUID
	StructureKind enums.StructureKind
	UnitID        *uuid.UUID
	ValidUntil    time.Time
}

// Viewer is the signed-in user for one operation.
type Viewer struct {
	UserID          uuid.UUID
	SessionID       uuid.UUID
	Email           string
	PasswordExpired bool
	Habilitations   []Habilitation
	// ReceivingUnits are the USP units this viewer receives requests for
	// (unit-scoped receiving habilitations, plus every USP unit of a structure
	// when the habilitation is structure-wide). Resolved at sign-in time of
	// each operation, so a revoked grant gives nothing on the next one.
	ReceivingUnits []uuid.UUID
}

// HasAny reports whether the viewer holds at least one valid habilitation.
func (v *Viewer) HasAny() bool { return v != nil && len(v.Habilitations) > 0 }

// Holds reports whether the viewer holds one of the profiles anywhere.
func (v *Viewer) Holds(profiles ...enums.Profile) bool {
	if v == nil {
		return false
	}
	for _, h := range v.Habilitations {
		if slices.Contains(profiles, h.Profile) {
			return true
		}
	}
	return false
}

// ReceivesFor reports whether the viewer receives requests for the unit.
func (v *Viewer) ReceivesFor(unitID uuid.UUID) bool {
	return v != nil && slices.Contains(v.ReceivingUnits, unitID)
}

type viewerKey struct{}
type systemKey struct{}
type writeKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// FromContext returns the viewer, or nil when nobody is signed in.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// System marks ctx as acting for the system: row rules do not apply.
// Only process-internal code (start-up, demo data, jobs, sign-in) uses it.
func System(ctx context.Context) context.Context {
	return context.WithValue(ctx, systemKey{}, true)
}

// IsSystem reports whether ctx acts for the system.
func IsSystem(ctx context.Context) bool {
	b, _ := ctx.Value(systemKey{}).(bool)
	return b
}

// AllowWrites marks ctx as carrying writes that a domain service has
// checked against the profile table and the state machine. Storage refuses
// any other write, so no generic path can change data.
func AllowWrites(ctx context.Context) context.Context {
	return context.WithValue(ctx, writeKey{}, true)
}

// WritesAllowed reports whether a domain service vouched for the writes.
func WritesAllowed(ctx context.Context) bool {
	b, _ := ctx.Value(writeKey{}).(bool)
	return b
}
