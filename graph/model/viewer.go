// Package model holds the GraphQL-only types (generated ones in models_gen.go).
package model

import (
	"github.com/google/uuid"

	"passerelle/ent"
)

// Viewer is the signed-in user with their currently valid habilitations.
type Viewer struct {
	ID              uuid.UUID
	Email           string
	FirstName       string
	LastName        string
	Profession      *string
	PasswordExpired bool
	Habilitations   []*ent.Habilitation
}
