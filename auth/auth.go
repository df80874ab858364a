// Package auth signs people in: passwords (argon2id), opaque bearer tokens
// (only their hash is stored), session expiry and idle timeout, set-up
// tokens, failed-login throttling, and the viewer of each operation.
package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/ent"
	"passerelle/ent/habilitation"
	"passerelle/ent/session"
	"passerelle/ent/unit"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/viewer"
)

// Config holds the sign-in settings.
type Config struct {
	TokenTTL       time.Duration // absolute session lifetime (default 12 h)
	IdleTimeout    time.Duration // session idle timeout (default 30 min)
	PasswordMaxAge time.Duration // older passwords must be changed (default 6 months)
	SetupTokenTTL  time.Duration // set-up / reset token lifetime (default 24 h)
	DemoMode       bool          // demo accounts may sign in only in demo mode
	Now            func() time.Time
}

func (c *Config) defaults() {
	if c.TokenTTL == 0 {
		c.TokenTTL = 12 * time.Hour
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 30 * time.Minute
	}
	if c.PasswordMaxAge == 0 {
		c.PasswordMaxAge = 183 * 24 * time.Hour
	}
	if c.SetupTokenTTL == 0 {
		c.SetupTokenTTL = 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
}

// Service signs people in and out.
type Service struct {
	client   *ent.Client
	cfg      Config
	accounts *Limiter
	addrs    *Limiter
}

// NewService returns the sign-in service.
func NewService(client *ent.Client, cfg Config) *Service {
	cfg.defaults()
	return &Service{
		client:   client,
		cfg:      cfg,
		accounts: NewLimiter(3, 10, 15*time.Minute),
		addrs:    NewLimiter(20, 100, 15*time.Minute),
	}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// errBadCredentials is the one answer to every failed sign-in.
func errBadCredentials() error {
	return apperr.New(apperr.Unauthenticated, "wrong e-mail or password")
}

// Session is a fresh sign-in.
type Session struct {
	Token     string
	ExpiresAt time.Time
	Viewer    *viewer.Viewer
}

func rateLimited(wait time.Duration) error {
	secs := int(wait.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return apperr.New(apperr.RateLimited, "too many failed sign-ins; retry in %d s", secs).
		With("retryAfterSeconds", secs)
}

// Login checks an e-mail and password and opens a session.
func (s *Service) Login(ctx context.Context, email, password, clientAddr string) (*Session, error) {
	now := s.cfg.Now()
	key := "email:" + strings.ToLower(strings.TrimSpace(email))
	addrKey := "addr:" + clientAddr
	if wait := max(s.accounts.Check(key, now), s.addrs.Check(addrKey, now)); wait > 0 {
		return nil, rateLimited(wait)
	}
	sys := viewer.System(ctx)
	u, err := s.client.User.Query().Where(user.Email(strings.ToLower(strings.TrimSpace(email)))).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	ok := false
	if u != nil && u.PasswordHash != "" {
		ok, err = VerifyPassword(u.PasswordHash, password)
		if err != nil {
			return nil, err
		}
	} else {
		_, _ = VerifyPassword(dummyHash, password) // same cost as a real check
	}
	if !ok || u.Disabled || (u.Demo && !s.cfg.DemoMode) {
		s.accounts.Fail(key, now)
		s.addrs.Fail(addrKey, now)
		return nil, errBadCredentials()
	}
	s.accounts.Reset(key)
	return s.openSession(ctx, u, clientAddr)
}

func (s *Service) openSession(ctx context.Context, u *ent.User, clientAddr string) (*Session, error) {
	now := s.cfg.Now()
	token, hash, err := NewToken()
	if err != nil {
		return nil, err
	}
	sess, err := s.client.Session.Create().
		SetUserID(u.ID).SetTokenHash(hash).SetCreatedAt(now).SetLastSeenAt(now).
		SetExpiresAt(now.Add(s.cfg.TokenTTL)).SetClientAddress(clientAddr).
		Save(viewer.System(ctx))
	if err != nil {
		return nil, err
	}
	v, err := s.LoadViewer(ctx, u, sess.ID)
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, ExpiresAt: sess.ExpiresAt, Viewer: v}, nil
}

// Authenticate returns the viewer of a bearer token: the session must be
// neither revoked nor expired nor idle, the account not disabled.
// Habilitations are read afresh, so a revocation counts on the next call.
func (s *Service) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	if token == "" {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	sys := viewer.System(ctx)
	now := s.cfg.Now()
	sess, err := s.client.Session.Query().Where(session.TokenHash(HashToken(token))).WithUser().Only(sys)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.Unauthenticated, "unknown or revoked session; sign in again")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case sess.RevokedAt != nil:
		return nil, apperr.New(apperr.Unauthenticated, "session revoked; sign in again")
	case !now.Before(sess.ExpiresAt):
		return nil, apperr.New(apperr.Unauthenticated, "session expired; sign in again")
	case now.Sub(sess.LastSeenAt) >= s.cfg.IdleTimeout:
		return nil, apperr.New(apperr.Unauthenticated, "session idle for too long; sign in again")
	case sess.Edges.User.Disabled:
		return nil, apperr.New(apperr.Unauthenticated, "account disabled")
	case sess.Edges.User.Demo && !s.cfg.DemoMode:
		return nil, apperr.New(apperr.Unauthenticated, "demo accounts work only in demo mode")
	}
	// Idle tracking costs a write: do it at most once a minute per session.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := s.client.Session.UpdateOneID(sess.ID).SetLastSeenAt(now).Exec(sys); err != nil {
			return nil, err
		}
	}
	return s.LoadViewer(ctx, sess.Edges.User, sess.ID)
}

// LoadViewer builds the viewer of a user: habilitations valid now, and the
// USP units they receive for.
func (s *Service) LoadViewer(ctx context.Context, u *ent.User, sessionID uuid.UUID) (*viewer.Viewer, error) {
	sys := viewer.System(ctx)
	now := s.cfg.Now()
	habs, err := s.client.Habilitation.Query().
		Where(habilitation.UserID(u.ID), habilitation.ValidFromLTE(now), habilitation.ValidUntilGT(now),
			habilitation.RevokedAtIsNil()).
		WithStructure().All(sys)
	if err != nil {
		return nil, err
	}
	v := &viewer.Viewer{UserID: u.ID, SessionID: sessionID, Email: u.Email}
	v.PasswordExpired = u.PasswordChangedAt == nil || now.Sub(*u.PasswordChangedAt) > s.cfg.PasswordMaxAge
	var wholeStructures []uuid.UUID
	for _, h := range habs {
		v.Habilitations = append(v.Habilitations, viewer.Habilitation{
			ID: h.ID, Profile: h.Profile, StructureID: h.StructureID, StructureKind: h.Edges.Structure.Kind,
			UnitID: h.UnitID, ValidUntil: h.ValidUntil,
		})
		if h.Profile == enums.ProfileReceiverPhysician || h.Profile == enums.ProfileReceiverStaff {
			if h.UnitID != nil {
				v.ReceivingUnits = append(v.ReceivingUnits, *h.UnitID)
			} else {
				wholeStructures = append(wholeStructures, h.StructureID)
			}
		}
	}
	if len(wholeStructures) > 0 {
		ids, err := s.client.Unit.Query().
			Where(unit.StructureIDIn(wholeStructures...), unit.KindEQ(enums.UnitKindUsp)).IDs(sys)
		if err != nil {
			return nil, err
		}
		v.ReceivingUnits = append(v.ReceivingUnits, ids...)
	}
	return v, nil
}

// Logout revokes the session.
func (s *Service) Logout(ctx context.Context, v *viewer.Viewer) error {
	return s.client.Session.UpdateOneID(v.SessionID).SetRevokedAt(s.cfg.Now()).Exec(viewer.System(ctx))
}

// ChangePassword replaces the password after checking the current one;
// every other session of the user is revoked.
func (s *Service) ChangePassword(ctx context.Context, v *viewer.Viewer, current, next string) error {
	sys := viewer.System(ctx)
	u, err := s.client.User.Get(sys, v.UserID)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	key := "email:" + u.Email
	if wait := s.accounts.Check(key, now); wait > 0 {
		return rateLimited(wait)
	}
	ok, err := VerifyPassword(u.PasswordHash, current)
	if err != nil || !ok {
		s.accounts.Fail(key, now)
		return apperr.BadInput("currentPassword", "the current password is wrong")
	}
	if err := s.setPassword(ctx, u, next); err != nil {
		return err
	}
	return s.client.Session.Update().
		Where(session.UserID(u.ID), session.IDNEQ(v.SessionID), session.RevokedAtIsNil()).
		SetRevokedAt(now).Exec(sys)
}

func (s *Service) setPassword(ctx context.Context, u *ent.User, next string) error {
	if err := identity.CheckPassword(next, u.Email); err != nil {
		return err
	}
	if same, _ := VerifyPassword(u.PasswordHash, next); same {
		return apperr.BadInput("newPassword", "the new password must differ from the current one")
	}
	hash, err := HashPassword(next)
	if err != nil {
		return err
	}
	return s.client.User.UpdateOneID(u.ID).SetPasswordHash(hash).SetPasswordChangedAt(s.cfg.Now()).
		ClearSetupTokenHash().ClearSetupTokenExpiresAt().Exec(viewer.System(ctx))
}

// SetupPassword uses a one-time set-up token (new account, lost password)
// to set the password, then signs in.
func (s *Service) SetupPassword(ctx context.Context, setupToken, next, clientAddr string) (*Session, error) {
	now := s.cfg.Now()
	addrKey := "addr:" + clientAddr
	if wait := s.addrs.Check(addrKey, now); wait > 0 {
		return nil, rateLimited(wait)
	}
	sys := viewer.System(ctx)
	u, err := s.client.User.Query().Where(user.SetupTokenHash(HashTokenString(setupToken))).Only(sys)
	if ent.IsNotFound(err) || (err == nil && (u.SetupTokenExpiresAt == nil || !now.Before(*u.SetupTokenExpiresAt) || u.Disabled)) {
		s.addrs.Fail(addrKey, now)
		return nil, apperr.New(apperr.Unauthenticated, "unknown or expired set-up token; ask your referent for a new one")
	}
	if err != nil {
		return nil, err
	}
	if err := s.setPassword(ctx, u, next); err != nil {
		return nil, err
	}
	return s.openSession(ctx, u, clientAddr)
}

// IssueSetupToken gives a user a new one-time set-up token (valid
// SetupTokenTTL), replacing any previous one. The caller checks the rights.
func (s *Service) IssueSetupToken(ctx context.Context, client *ent.Client, userID uuid.UUID) (string, time.Time, error) {
	token, _, err := NewToken()
	if err != nil {
		return "", time.Time{}, err
	}
	exp := s.cfg.Now().Add(s.cfg.SetupTokenTTL)
	err = client.User.UpdateOneID(userID).SetSetupTokenHash(HashTokenString(token)).
		SetSetupTokenExpiresAt(exp).Exec(viewer.System(ctx))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing set-up token: %w", err)
	}
	return token, exp, nil
}

// RevokeSessions ends every session of a user (account disabled).
func (s *Service) RevokeSessions(ctx context.Context, client *ent.Client, userID uuid.UUID) error {
	return client.Session.Update().Where(session.UserID(userID), session.RevokedAtIsNil()).
		SetRevokedAt(s.cfg.Now()).Exec(viewer.System(ctx))
}
