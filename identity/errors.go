// Package identity holds pure domain validators for the identifiers and
// personal data handled by passerelle: FINESS (establishments), RPPS
// (health professionals), INS/NIR (patients), e-mail addresses, person-name
// folding for duplicate detection, and the password policy.
//
// Nothing here knows about GraphQL or the database. Every validator reports
// a problem as a *FieldError carrying a default field name ("finess",
// "rpps", "ins", "email", "newPassword") and an English message; callers
// that expose the value under another path rename it with
// (*FieldError).WithField or RenameField.
package identity

import "errors"

// Default field names used by the validators of this package.
const (
	FieldFINESS      = "finess"
	FieldRPPS        = "rpps"
	FieldINS         = "ins"
	FieldEmail       = "email"
	FieldNewPassword = "newPassword"
)

// FieldError reports an invalid input value. Field names the input
// (e.g. "ins" or "input.patient.ins"); Message says, in English, what is
// wrong with it.
type FieldError struct {
	Field   string
	Message string
}

// NewFieldError returns a *FieldError for field with message.
func NewFieldError(field, message string) *FieldError {
	return &FieldError{Field: field, Message: message}
}

// Error returns "field: message" (or just the message when Field is empty).
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// WithField returns a copy of e whose Field is name. The receiver is not
// modified. A nil receiver yields nil.
func (e *FieldError) WithField(name string) *FieldError {
	if e == nil {
		return nil
	}
	c := *e
	c.Field = name
	return &c
}

// AsFieldError reports whether err is (or wraps) a *FieldError and returns it.
func AsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	if errors.As(err, &fe) && fe != nil {
		return fe, true
	}
	return nil, false
}

// RenameField returns err with its field name replaced by name when err is
// (or wraps) a *FieldError, and err unchanged otherwise (including nil).
// It lets callers write
//
//	if err := identity.RenameField(identity.ValidateINS(s), "input.patient.ins"); err != nil { ... }
func RenameField(err error, name string) error {
	if err == nil {
		return nil
	}
	if fe, ok := AsFieldError(err); ok {
		return fe.WithField(name)
	}
	return err
}
