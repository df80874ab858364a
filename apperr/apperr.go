// Package apperr is the one place where domain, storage and validation
// errors become the API's error codes (extensions.code).
package apperr

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"passerelle/ent"
	"passerelle/ent/privacy"
	"passerelle/enums"
	"passerelle/identity"
)

// Code is the value of extensions.code.
type Code string

// The error codes of the client contract.
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Conflict        Code = "CONFLICT"
	PasswordExpired Code = "PASSWORD_EXPIRED"
	RateLimited     Code = "RATE_LIMITED"
	Internal        Code = "INTERNAL"
)

// Error is an error the API may show as it is.
type Error struct {
	Code    Code
	Message string
	// Field names the input at fault (BAD_USER_INPUT), e.g. "input.patient.ins".
	Field string
	// Extensions are extra, safe, details (e.g. the current status on CONFLICT).
	Extensions map[string]any
	cause      error
}

func (e *Error) Error() string { return e.Message }

// Unwrap gives the cause, for logs.
func (e *Error) Unwrap() error { return e.cause }

// New returns an API error.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadInput is a BAD_USER_INPUT error on one field.
func BadInput(field, format string, args ...any) *Error {
	e := New(BadUserInput, format, args...)
	e.Field = field
	return e
}

// NotFoundError is the answer for a row that does not exist or that the viewer
// may not see: the same words either way, so existence does not leak.
func NotFoundError(what string) *Error { return New(NotFound, "%s not found", what) }

// ConflictStatus is a CONFLICT carrying the current status.
func ConflictStatus(status fmt.Stringer, format string, args ...any) *Error {
	e := New(Conflict, format, args...)
	e.Extensions = map[string]any{"currentStatus": status.String()}
	return e
}

// With adds an extension.
func (e *Error) With(key string, value any) *Error {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions[key] = value
	return e
}

// ErrOperationTimeout is the cause of an operation's context when the
// server's own deadline for it ran out (graph.Limits.OperationTimeout).
var ErrOperationTimeout = errors.New("apperr: operation timeout")

// FromContext is From for an error met under ctx: an interruption caused
// by the server's deadline (ErrOperationTimeout) says so.
func FromContext(ctx context.Context, err error) *Error {
	ae := From(err)
	if ae != nil && ae.Code == Internal && errors.Is(err, context.DeadlineExceeded) &&
		errors.Is(context.Cause(ctx), ErrOperationTimeout) {
		// A change whose transaction it interrupted was rolled back; one
		// already committed stays.
		return &Error{Code: Internal, Message: "the operation took longer than the server allows and was stopped; reload before retrying a change", cause: err}
	}
	return ae
}

// From maps any error to an API error. Unknown errors become INTERNAL with
// no detail; the caller logs the cause.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	if fe, ok := identity.AsFieldError(err); ok {
		return &Error{Code: BadUserInput, Message: fe.Message, Field: fe.Field, cause: err}
	}
	var ie *enums.InvalidError
	if errors.As(err, &ie) {
		return &Error{Code: BadUserInput, Message: ie.Error(), cause: err}
	}
	var nf *ent.NotFoundError
	if errors.As(err, &nf) || errors.Is(err, privacy.Deny) {
		return &Error{Code: NotFound, Message: "not found", cause: err}
	}
	var ce *ent.ConstraintError
	if errors.As(err, &ce) {
		return &Error{Code: Conflict, Message: "the change conflicts with the current data; reload and retry", cause: err}
	}
	var ve *ent.ValidationError
	if errors.As(err, &ve) {
		return &Error{Code: BadUserInput, Message: "invalid value for " + ve.Name, Field: ve.Name, cause: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: Internal, Message: "the operation was interrupted", cause: err}
	}
	return &Error{Code: Internal, Message: "internal error", cause: err}
}

// InputField is From for a write of an input's fields: an ent validation
// error (a value the schema refuses, e.g. a name over its length) names the
// input field as the API does, under prefix ("input.patient." +
// "usedName", not "used_name"); any other error passes through.
func InputField(err error, prefix string) error {
	var ve *ent.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	msg := "invalid value"
	if cause := errors.Unwrap(ve); cause != nil {
		msg += ": " + cause.Error()
	}
	return BadInput(prefix+APIName(ve.Name), "%s", msg)
}

// APIName is a column's name as the API spells its field (postal_code →
// postalCode).
func APIName(column string) string {
	parts := strings.Split(column, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
