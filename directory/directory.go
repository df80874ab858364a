// Package directory manages the directory: structures and their units (the
// sheets and the bed availability of USP units), accounts and habilitations.
//
// Who may do what comes from the profile rule table (package authz); this
// package only asks it. Errors follow one rule so that existence never
// leaks: a viewer who holds no profile giving the action anywhere gets
// FORBIDDEN; a viewer who holds it, but not on the target's structure, gets
// NOT_FOUND, the same answer as for an unknown ID.
//
// Every mutation runs in one transaction. Reads that find the target run
// with the viewer's context, so the row rules apply; the few reads that must
// see past them (uniqueness of an e-mail address, the other habilitations of
// an account) use viewer.System and say why. Writes run with
// viewer.AllowWrites once the checks are done.
package directory

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"passerelle/apperr"
	"passerelle/auth"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/viewer"
)

// DefaultMaxHabilitationDuration is the longest validity of a habilitation
// unless configured otherwise: one year.
const DefaultMaxHabilitationDuration = 365 * 24 * time.Hour

// Config holds the directory settings.
type Config struct {
	// MaxHabilitationDuration bounds validUntil: no later than now plus this
	// duration (default DefaultMaxHabilitationDuration).
	MaxHabilitationDuration time.Duration
	// Now is the clock (default: time.Now in UTC).
	Now func() time.Time
}

// Service is the directory service.
type Service struct {
	client *ent.Client
	auth   *auth.Service
	cfg    Config
}

// NewService returns the directory service.
func NewService(client *ent.Client, auth *auth.Service, cfg Config) *Service {
	if cfg.MaxHabilitationDuration <= 0 {
		cfg.MaxHabilitationDuration = DefaultMaxHabilitationDuration
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{client: client, auth: auth, cfg: cfg}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// now is the current instant in UTC, at the microsecond (what databases keep).
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// inTx runs fn in one transaction: committed when fn returns nil, rolled
// back otherwise (and on panic).
func (s *Service) inTx(ctx context.Context, fn func(tx *ent.Tx) error) (err error) {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("directory: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return mapError(err)
	}
	if err := tx.Commit(); err != nil {
		return mapError(fmt.Errorf("directory: commit: %w", err))
	}
	return nil
}

// mapError turns storage errors into API errors with the API's field names;
// API errors pass through.
func mapError(err error) error {
	return apperr.From(apperr.InputField(err, "input."))
}

// signedIn returns the viewer, or UNAUTHENTICATED / PASSWORD_EXPIRED.
//
// The GraphQL access gate (graph.AccessGate) refuses a too-old password at
// the root field first, but it does not cover everything that reaches this
// package: Structure.staffing is resolved below the viewer root field, which
// the gate lets through, and subscriptions do not run root-field middleware
// at all. So the check stays here too (e2e/passwordexpiry_test.go).
func signedIn(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if v.PasswordExpired {
		return nil, apperr.New(apperr.PasswordExpired, "your password has expired; change it first")
	}
	return v, nil
}

// holdsAction reports whether the viewer holds an administrative action
// anywhere (region-wide or on at least one structure).
func holdsAction(v *viewer.Viewer, a authz.Action) bool {
	return authz.CanAdministerAnywhere(v, a) || len(authz.AdministeredStructures(v, a)) > 0
}

// forbidden is the answer to a viewer holding no profile for the action.
func forbidden(what string) error {
	return apperr.New(apperr.Forbidden, "your profiles do not allow you to %s", what)
}

// requireAction returns FORBIDDEN unless the viewer holds the action somewhere.
func requireAction(ctx context.Context, a authz.Action, what string) (*viewer.Viewer, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !holdsAction(v, a) {
		return nil, forbidden(what)
	}
	return v, nil
}

// text trims an optional text; nil stays nil.
func text(p *string) *string {
	if p == nil {
		return nil
	}
	t := strings.TrimSpace(*p)
	return &t
}

// checkText checks a trimmed text against a maximum length in characters.
func checkText(field, value string, maxLen int, required bool) error {
	if required && value == "" {
		return apperr.BadInput(field, "%s is required", fieldLabel(field))
	}
	if !utf8.ValidString(value) {
		return apperr.BadInput(field, "%s is not valid text", fieldLabel(field))
	}
	if utf8.RuneCountInString(value) > maxLen {
		return apperr.BadInput(field, "%s must be at most %d characters", fieldLabel(field), maxLen)
	}
	for _, r := range value {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return apperr.BadInput(field, "%s contains control characters", fieldLabel(field))
		}
	}
	return nil
}

// fieldLabel is the last part of a field path ("input.name" → "name").
func fieldLabel(field string) string {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		return field[i+1:]
	}
	return field
}

var (
	departmentRE = regexp.MustCompile(`^(0[1-9]|1[0-9]|2[1-9]|2A|2B|[3-8][0-9]|9[0-5]|97[1-8]|98[4-9])$`)
	postalCodeRE = regexp.MustCompile(`^[0-9]{5}$`)
)

// checkDepartment normalizes and checks a département code.
func checkDepartment(field, s string) (string, error) {
	d := strings.ToUpper(strings.TrimSpace(s))
	if d == "" {
		return "", apperr.BadInput(field, "département is required")
	}
	if !departmentRE.MatchString(d) {
		return "", apperr.BadInput(field, "département must be a French département code such as 75, 2A or 974")
	}
	return d, nil
}
