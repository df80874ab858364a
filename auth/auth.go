// Package auth signs people in: passwords (argon2id), opaque bearer tokens
// (only their hash is stored), session expiry and idle timeout, set-up
// tokens, failed-login throttling, and the viewer of each operation.
package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/ent"
	"passerelle/ent/habilitation"
	"passerelle/ent/session"
	"passerelle/ent/structure"
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
	accounts Throttle
	addrs    Throttle
	authn    *authStatement
	touches  touches
}

// NewService returns the sign-in service.
func NewService(client *ent.Client, cfg Config) *Service {
	cfg.defaults()
	return &Service{
		client:  client,
		cfg:     cfg,
		authn:   newAuthStatement(client.Dialect()),
		touches: touches{at: map[uuid.UUID]time.Time{}},
		// In the database: every instance sees the same failures.
		accounts: NewDBThrottle(client, 3, 10, 15*time.Minute),
		addrs:    NewDBThrottle(client, 20, 100, 15*time.Minute),
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
	wait, err := s.accounts.Check(ctx, key, now)
	if err != nil {
		return nil, err
	}
	addrWait, err := s.addrs.Check(ctx, addrKey, now)
	if err != nil {
		return nil, err
	}
	if wait = max(wait, addrWait); wait > 0 {
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
		if err := s.accounts.Fail(ctx, key, now); err != nil {
			return nil, err
		}
		if err := s.addrs.Fail(ctx, addrKey, now); err != nil {
			return nil, err
		}
		return nil, errBadCredentials()
	}
	if err := s.accounts.Reset(ctx, key); err != nil {
		return nil, err
	}
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
// neither revoked nor expired nor idle, the account neither disabled nor a
// demo one outside demo mode. Habilitations are read afresh, so a
// revocation counts on the next call.
//
// It costs one query (the session, its account and the viewer's
// habilitations, joined: see viewerJoins; built once, authStatement), plus
// the idle-tracking update at most once a minute per session.
func (s *Service) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	if token == "" {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	sys := viewer.System(ctx)
	now := s.cfg.Now()
	rows, err := s.authn.run(sys, s.client, HashToken(token), now)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, apperr.New(apperr.Unauthenticated, "unknown or revoked session; sign in again")
	}
	sess := rows[0]
	switch {
	case sess.RevokedAt != nil:
		return nil, apperr.New(apperr.Unauthenticated, "session revoked; sign in again")
	case !now.Before(sess.ExpiresAt):
		return nil, apperr.New(apperr.Unauthenticated, "session expired; sign in again")
	case now.Sub(sess.LastSeenAt) >= s.cfg.IdleTimeout:
		return nil, apperr.New(apperr.Unauthenticated, "session idle for too long; sign in again")
	case sess.Disabled:
		return nil, apperr.New(apperr.Unauthenticated, "account disabled")
	case sess.Demo && !s.cfg.DemoMode:
		return nil, apperr.New(apperr.Unauthenticated, "demo accounts work only in demo mode")
	}
	// Idle tracking costs a write: do it at most once a minute per session,
	// and from one request only (s.touches). (An update of many rows is one
	// statement; UpdateOne would also read the row back in a transaction.)
	if now.Sub(sess.LastSeenAt) > time.Minute && s.touches.claim(sess.SessionID, now) {
		if err := s.client.Session.Update().Where(session.ID(sess.SessionID)).SetLastSeenAt(now).Exec(sys); err != nil {
			s.touches.release(sess.SessionID, now)
			return nil, err
		}
	}
	return s.viewerOf(sess.UserID, sess.SessionID, sess.Email, sess.PasswordChangedAt, rows, now)
}

// authStatement is Authenticate's query — the session of a token hash,
// its account, and viewerJoins — built once with ent's SQL builder for the
// client's dialect: building it on every request, and scanning its rows by
// reflection (ent's Select.Scan), cost as much as running it (≈ 35 of
// 105 µs of CPU; docs/performance.md). The time and the token are
// arguments, put in place for each call.
type authStatement struct {
	query   string
	args    []any
	nowAt   []int
	tokenAt int
}

// authArg marks the arguments set on each call.
type authArg int

const (
	argNow authArg = iota + 1
	argToken
)

func newAuthStatement(dialect string) *authStatement {
	d := entsql.Dialect(dialect)
	sel := d.Select().From(d.Table(session.Table))
	u := d.Table(user.Table).As("u")
	sel.Join(u).On(sel.C(session.FieldUserID), u.C(user.FieldID))
	sel.Select(append([]string{
		sel.C(session.FieldID),
		sel.C(session.FieldExpiresAt),
		sel.C(session.FieldLastSeenAt),
		sel.C(session.FieldRevokedAt),
		u.C(user.FieldID),
		u.C(user.FieldEmail),
		u.C(user.FieldDisabled),
		u.C(user.FieldDemo),
		u.C(user.FieldPasswordChangedAt),
	}, viewerJoins(sel, u.C(user.FieldID), argNow)...)...)
	sel.Where(entsql.EQ(sel.C(session.FieldTokenHash), argToken))
	st := &authStatement{tokenAt: -1}
	st.query, st.args = sel.Query()
	for i, a := range st.args {
		switch a {
		case argNow:
			st.nowAt = append(st.nowAt, i)
		case argToken:
			st.tokenAt = i
		}
	}
	if len(st.nowAt) != 2 || st.tokenAt < 0 {
		panic(fmt.Sprintf("auth: the session statement has %d time and %d token arguments", len(st.nowAt), st.tokenAt+1))
	}
	return st
}

// run reads the rows of the session with this token hash, at now (the
// columns in the order of viewerRow).
func (st *authStatement) run(ctx context.Context, client *ent.Client, tokenHash []byte, now time.Time) ([]viewerRow, error) {
	args := slices.Clone(st.args)
	for _, i := range st.nowAt {
		args[i] = now
	}
	args[st.tokenAt] = tokenHash
	rows, err := client.QueryContext(ctx, st.query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []viewerRow
	for rows.Next() {
		var r viewerRow
		if err := rows.Scan(&r.SessionID, &r.ExpiresAt, &r.LastSeenAt, &r.RevokedAt, &r.UserID, &r.Email, &r.Disabled,
			&r.Demo, &r.PasswordChangedAt, &r.HabilitationID, &r.Profile, &r.StructureID, &r.StructureKind, &r.UnitID,
			&r.ValidUntil, &r.ReceivingUnitID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LoadViewer builds the viewer of a user: habilitations valid now, and the
// USP units they receive for. One query.
func (s *Service) LoadViewer(ctx context.Context, u *ent.User, sessionID uuid.UUID) (*viewer.Viewer, error) {
	now := s.cfg.Now()
	var rows []viewerRow
	err := s.client.User.Query().Where(user.ID(u.ID)).
		Modify(func(sel *entsql.Selector) {
			sel.Select(viewerJoins(sel, sel.C(user.FieldID), now)...)
		}).Scan(viewer.System(ctx), &rows)
	if err != nil {
		return nil, err
	}
	return s.viewerOf(u.ID, sessionID, u.Email, u.PasswordChangedAt, rows, now)
}

// viewerRow is one row of the viewer queries. Authenticate fills the
// session and account columns (the same on every row). The habilitation
// columns hold one habilitation valid now, or are NULL when the account has
// none (one row then); ReceivingUnitID is, for a structure-wide receiving
// habilitation, one USP unit of its structure (one row per unit; NULL
// otherwise).
type viewerRow struct {
	SessionID         uuid.UUID  `sql:"session_id"`
	ExpiresAt         time.Time  `sql:"expires_at"`
	LastSeenAt        time.Time  `sql:"last_seen_at"`
	RevokedAt         *time.Time `sql:"revoked_at"`
	UserID            uuid.UUID  `sql:"user_id"`
	Email             string     `sql:"email"`
	Disabled          bool       `sql:"disabled"`
	Demo              bool       `sql:"demo"`
	PasswordChangedAt *time.Time `sql:"password_changed_at"`

	HabilitationID  *uuid.UUID           `sql:"habilitation_id"`
	Profile         *enums.Profile       `sql:"profile"`
	StructureID     *uuid.UUID           `sql:"structure_id"`
	StructureKind   *enums.StructureKind `sql:"structure_kind"`
	UnitID          *uuid.UUID           `sql:"unit_id"`
	ValidUntil      *time.Time           `sql:"valid_until"`
	ReceivingUnitID *uuid.UUID           `sql:"receiving_unit_id"`
}

// viewerJoins left-joins, to sel whose rows each hold one account (userID
// is its id column), what the viewer needs of that account's habilitations:
// those valid at now and not revoked, the kind of their structure, and for
// a structure-wide receiving habilitation the USP units of its structure.
// It orders the rows by habilitation and returns the columns to select
// (viewerRow's habilitation part). A left join keeps the account's row when
// it holds no valid habilitation.
func viewerJoins(sel *entsql.Selector, userID string, now any) []string {
	d := entsql.Dialect(sel.Dialect())
	h := d.Table(habilitation.Table).As("h")
	st := d.Table(structure.Table).As("st")
	un := d.Table(unit.Table).As("un")
	sel.LeftJoin(h).OnP(entsql.And(
		entsql.ColumnsEQ(h.C(habilitation.FieldUserID), userID),
		entsql.LTE(h.C(habilitation.FieldValidFrom), now),
		entsql.GT(h.C(habilitation.FieldValidUntil), now),
		entsql.IsNull(h.C(habilitation.FieldRevokedAt)),
	))
	sel.LeftJoin(st).On(h.C(habilitation.FieldStructureID), st.C(structure.FieldID))
	// un.kind = CASE WHEN <structure-wide receiving> THEN 'USP' END: written
	// so, the kind to look up is NULL for every other habilitation and the
	// databases skip the units instead of looking them up once per
	// habilitation row; for a structure-wide receiving one, the index
	// units(structure_id, kind) gives the structure's USP units at once.
	wholeStructureReceiving := entsql.And(
		entsql.IsNull(h.C(habilitation.FieldUnitID)),
		entsql.In(h.C(habilitation.FieldProfile), enums.ProfileReceiverPhysician, enums.ProfileReceiverStaff),
	)
	sel.LeftJoin(un).OnP(entsql.And(
		entsql.P(func(b *entsql.Builder) {
			b.Ident(un.C(unit.FieldKind)).WriteOp(entsql.OpEQ).WriteString("CASE WHEN ").
				Join(wholeStructureReceiving).WriteString(" THEN ").Arg(string(enums.UnitKindUsp)).WriteString(" END")
		}),
		entsql.ColumnsEQ(un.C(unit.FieldStructureID), h.C(habilitation.FieldStructureID)),
	))
	sel.OrderBy(h.C(habilitation.FieldValidUntil), h.C(habilitation.FieldID), un.C(unit.FieldID))
	return []string{
		entsql.As(h.C(habilitation.FieldID), "habilitation_id"),
		h.C(habilitation.FieldProfile),
		h.C(habilitation.FieldStructureID),
		entsql.As(st.C(structure.FieldKind), "structure_kind"),
		h.C(habilitation.FieldUnitID),
		h.C(habilitation.FieldValidUntil),
		entsql.As(un.C(unit.FieldID), "receiving_unit_id"),
	}
}

// viewerOf builds the viewer from the rows of viewerJoins: the
// habilitations in their order; as receiving units, first the unit of each
// unit-scoped receiving habilitation, then every USP unit of the structures
// of structure-wide receiving habilitations (once each).
func (s *Service) viewerOf(userID, sessionID uuid.UUID, email string, passwordChangedAt *time.Time, rows []viewerRow, now time.Time) (*viewer.Viewer, error) {
	v := &viewer.Viewer{UserID: userID, SessionID: sessionID, Email: email}
	v.PasswordExpired = passwordChangedAt == nil || now.Sub(*passwordChangedAt) > s.cfg.PasswordMaxAge
	var wholeStructureUnits []uuid.UUID
	for _, r := range rows {
		if r.HabilitationID == nil {
			continue
		}
		if n := len(v.Habilitations); n == 0 || v.Habilitations[n-1].ID != *r.HabilitationID {
			if r.Profile == nil || r.StructureID == nil || r.StructureKind == nil || r.ValidUntil == nil {
				return nil, fmt.Errorf("auth: habilitation %s: incomplete row (missing structure?)", *r.HabilitationID)
			}
			v.Habilitations = append(v.Habilitations, viewer.Habilitation{
				ID: *r.HabilitationID, Profile: *r.Profile, StructureID: *r.StructureID, StructureKind: *r.StructureKind,
				UnitID: r.UnitID, ValidUntil: *r.ValidUntil,
			})
			if (*r.Profile == enums.ProfileReceiverPhysician || *r.Profile == enums.ProfileReceiverStaff) && r.UnitID != nil {
				v.ReceivingUnits = append(v.ReceivingUnits, *r.UnitID)
			}
		}
		if r.ReceivingUnitID != nil && !slices.Contains(wholeStructureUnits, *r.ReceivingUnitID) {
			wholeStructureUnits = append(wholeStructureUnits, *r.ReceivingUnitID)
		}
	}
	v.ReceivingUnits = append(v.ReceivingUnits, wholeStructureUnits...)
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
	if wait, err := s.accounts.Check(ctx, key, now); err != nil {
		return err
	} else if wait > 0 {
		return rateLimited(wait)
	}
	ok, err := VerifyPassword(u.PasswordHash, current)
	if err != nil || !ok {
		if err := s.accounts.Fail(ctx, key, now); err != nil {
			return err
		}
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
	if wait, err := s.addrs.Check(ctx, addrKey, now); err != nil {
		return nil, err
	} else if wait > 0 {
		return nil, rateLimited(wait)
	}
	sys := viewer.System(ctx)
	u, err := s.client.User.Query().Where(user.SetupTokenHash(HashTokenString(setupToken))).Only(sys)
	if ent.IsNotFound(err) || (err == nil && (u.SetupTokenExpiresAt == nil || !now.Before(*u.SetupTokenExpiresAt) || u.Disabled)) {
		if err := s.addrs.Fail(ctx, addrKey, now); err != nil {
			return nil, err
		}
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

// touches remembers the sessions whose idle-tracking update this process
// is writing, or wrote less than a minute ago. Without it, every request of
// a session that arrived once its last_seen_at had turned a minute old
// wrote the same update until the first of them committed: behind any
// other writer (SQLite has one at a time; on PostgreSQL the row's lock),
// each of those requests queued its own write and waited for it, once a
// minute per busy session (TestAuthenticateRefreshesLastSeenOnce). Now one
// request writes and the others go on; several instances write once each.
type touches struct {
	mu    sync.Mutex
	at    map[uuid.UUID]time.Time
	swept time.Time // last time the old entries were forgotten
}

// touchesSwept is the size beyond which claim forgets, at most once a
// minute, the entries older than a minute (they would not stop a new update
// anyway): the map holds about the sessions active in the last two minutes.
const touchesSwept = 4096

// claim reports whether the caller is the one to write session id's
// idle-tracking update at now.
func (t *touches) claim(id uuid.UUID, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at, ok := t.at[id]; ok && now.Sub(at) < time.Minute {
		return false
	}
	if len(t.at) >= touchesSwept && now.Sub(t.swept) >= time.Minute {
		t.swept = now
		for k, at := range t.at {
			if now.Sub(at) >= time.Minute {
				delete(t.at, k)
			}
		}
	}
	t.at[id] = now
	return true
}

// release gives up a claim whose write failed, so that the next request
// of the session tries again.
func (t *touches) release(id uuid.UUID, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.at[id].Equal(at) {
		delete(t.at, id)
	}
}
