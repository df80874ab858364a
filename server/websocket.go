package server

import (
	"context"
	"errors"
	"github.com/google/uuid"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"passerelle/apperr"
	"passerelle/server/reqctx"
	"passerelle/viewer"
)

// Websocket close codes (graphql-transport-ws and RFC 6455).
const (
	// CloseForbidden closes a connection whose connection_init carried no
	// valid token, or whose session or habilitation was revoked since.
	CloseForbidden = 4403
	// CloseGoingAway closes connections when the server shuts down.
	CloseGoingAway = 1001
	// CloseTooManyConnections refuses a user's connection beyond
	// Config.MaxConnectionsPerUser.
	CloseTooManyConnections = 4429
	// CloseTryAgainLater (RFC 6455 1013) closes a connection whose
	// credentials could not be re-checked several times in a row.
	CloseTryAgainLater = 1013
)

// Close reasons sent with CloseForbidden.
const (
	ReasonForbidden           = "Forbidden"
	ReasonSessionEnded        = "Forbidden: session expired or revoked"
	ReasonHabilitationRevoked = "Forbidden: habilitation revoked"
	// ReasonCannotRecheck goes with CloseTryAgainLater.
	ReasonCannotRecheck = "credentials could not be re-checked; reconnect"
	reasonShutdown      = "server shutting down"
	// ReasonTooManyConnections goes with CloseTooManyConnections.
	ReasonTooManyConnections = "Too many connections for this user"
)

// serveWebsocket checks the handshake and the origin, then hands the
// upgrade to gqlgen. It answers refusals itself, as JSON, so that neither
// coder/websocket nor gqlgen writes (and logs) them.
func (s *server) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	id := reqctx.RequestID(r.Context())
	if !isWebsocketHandshake(r) {
		writeError(w, http.StatusBadRequest, "BAD_USER_INPUT", "invalid websocket handshake", id)
		return
	}
	if !s.websocketOriginAllowed(r) {
		writeError(w, http.StatusForbidden, "FORBIDDEN", "websocket connections from this origin are not allowed", id)
		return
	}
	st := &wsState{}
	ctx, done, ok := trackStream(reqctx.WithStreaming(context.WithValue(r.Context(), wsStateKey{}, st)), func() {
		st.setClose(CloseGoingAway, reasonShutdown)
	})
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "INTERNAL", "server shutting down", id)
		return
	}
	defer done()
	s.gql.ServeHTTP(w, r.WithContext(ctx))
}

// isWebsocketHandshake checks what coder/websocket's Accept checks.
func isWebsocketHandshake(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket") &&
		r.Header.Get("Sec-WebSocket-Version") == "13" &&
		r.Header.Get("Sec-WebSocket-Key") != ""
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// websocketOriginAllowed mirrors coder/websocket: no Origin (not a
// browser) or the request's own host, else a configured CORS origin.
func (s *server) websocketOriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || s.origins.allows(origin)
}

// wsState links one websocket connection's session watcher to its
// connection, so that the close frame says why the server closed it.
type wsState struct {
	mu     sync.Mutex
	code   int
	reason string
}

type wsStateKey struct{}

// setClose records the close code and reason to use; the first one wins.
func (st *wsState) setClose(code int, reason string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.code == 0 {
		st.code, st.reason = code, reason
	}
}

func (st *wsState) closeOverride() (int, string, bool) {
	if st == nil {
		return 0, "", false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.code, st.reason, st.code != 0
}

// wsImplementation wraps gqlgen's coder/websocket adapter.
//
// gqlgen closes a connection whose InitFunc context is cancelled, but always
// with 1000 "terminated" (the reason it reads from the context is sent as a
// connection_error message, which graphql-transport-ws does not have). The
// wrapper replaces that close frame with the code and reason recorded in
// the connection's wsState, e.g. 4403 "Forbidden: session expired or
// revoked".
type wsImplementation struct {
	inner transport.WebsocketImplementation
}

func (i wsImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := i.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	st, _ := r.Context().Value(wsStateKey{}).(*wsState)
	return &wsConn{WebsocketConn: conn, st: st}, nil
}

type wsConn struct {
	transport.WebsocketConn
	st *wsState
}

var (
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

func (c *wsConn) WriteClose(code int, message string) error {
	if oc, reason, ok := c.st.closeOverride(); ok {
		code, message = oc, reason
	}
	return c.WebsocketConn.WriteClose(code, message)
}

// SetReadLimit and SetReadDeadline keep the optional interfaces of the
// wrapped connection (payload limit, ping/pong deadline).
func (c *wsConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

var errForbidden = errors.New(ReasonForbidden)

// wsInit authenticates the token of connection_init, puts the viewer in
// the connection's context and starts its session watcher. Without a valid
// token the connection is closed with 4403 "Forbidden".
func (s *server) wsInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	reject := func(msg string, err error) (context.Context, *transport.InitPayload, error) {
		s.log.InfoContext(ctx, "websocket connection refused", "request_id", reqctx.RequestID(ctx),
			"reason", msg, "error", err)
		ctx = transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, ReasonForbidden), CloseForbidden)
		return ctx, nil, errForbidden
	}
	token, err := initToken(payload)
	if err != nil {
		return reject("no valid token in connection_init", err)
	}
	actx, cancel := context.WithTimeout(ctx, authTimeout)
	v, err := s.auth.Authenticate(actx, token)
	cancel()
	if err == nil && v == nil {
		err = errNoViewer
	}
	if err != nil {
		return reject("token rejected", err)
	}
	if !s.conns.acquire(v.UserID, s.cfg.MaxConnectionsPerUser) {
		s.log.InfoContext(ctx, "websocket connection refused", "request_id", reqctx.RequestID(ctx),
			"reason", "too many connections for this user")
		ctx = transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, ReasonTooManyConnections), CloseTooManyConnections)
		return ctx, nil, errTooManyConnections
	}
	ctx = viewer.NewContext(reqctx.WithAuth(ctx, token, nil), v)
	ctx = reqctx.WithBudget(ctx, reqctx.NewBudget(s.cfg.MaxSubscriptionsPerConnection))
	ctx, closeConn := context.WithCancel(ctx)
	// The slot is released when the connection ends (no goroutine waits
	// for it: one per connection is memory at 10 000 connections).
	s.metrics.WebsocketOpened()
	context.AfterFunc(ctx, func() {
		s.conns.release(v.UserID)
		s.metrics.WebsocketClosed()
	})
	st, _ := ctx.Value(wsStateKey{}).(*wsState)
	s.sessions.watch(ctx, closeConn, st, token, v)
	return ctx, nil, nil
}

var errNoToken = errors.New("no token")

var errTooManyConnections = errors.New("too many connections")

// connCounter counts open websocket connections per user.
type connCounter struct {
	mu sync.Mutex
	n  map[uuid.UUID]int
}

func (c *connCounter) acquire(user uuid.UUID, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[uuid.UUID]int{}
	}
	if c.n[user] >= max {
		return false
	}
	c.n[user]++
	return true
}

func (c *connCounter) release(user uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[user]--; c.n[user] <= 0 {
		delete(c.n, user)
	}
}

// initToken reads the token of a connection_init payload:
// {"Authorization": "Bearer <t>"}, {"authorization": "Bearer <t>"} or
// {"token": "<t>"}.
func initToken(p transport.InitPayload) (string, error) {
	if h := p.Authorization(); h != "" {
		token, ok := parseBearer(h)
		if !ok {
			return "", reqctx.ErrMalformedAuthorization
		}
		return token, nil
	}
	if t := p.GetString("token"); t != "" {
		if !validToken(t) {
			return "", reqctx.ErrMalformedAuthorization
		}
		return t, nil
	}
	return "", errNoToken
}

// reauthFailuresTolerated is how many re-authentications in a row may fail
// to run before a connection is closed with CloseTryAgainLater.
const reauthFailuresTolerated = 3

// credentialsRejected tells a token that no longer authenticates (an API
// error: UNAUTHENTICATED and the like) from a failure to check it.
func credentialsRejected(err error) bool {
	var ae *apperr.Error
	return errors.As(err, &ae) && ae.Code != apperr.Internal
}

// stillCovers reports whether the fresh viewer still has everything the
// viewer of the connection's context has, so that the latter grants nothing
// that was taken away since.
func stillCovers(now, then *viewer.Viewer) bool {
	if now.UserID != then.UserID || now.SessionID != then.SessionID {
		return false
	}
	if now.PasswordExpired && !then.PasswordExpired {
		return false
	}
	for _, h := range then.Habilitations {
		if !slices.ContainsFunc(now.Habilitations, func(n viewer.Habilitation) bool { return sameHabilitation(n, h) }) {
			return false
		}
	}
	for _, u := range then.ReceivingUnits {
		if !slices.Contains(now.ReceivingUnits, u) {
			return false
		}
	}
	return true
}

func sameHabilitation(a, b viewer.Habilitation) bool {
	if a.ID != b.ID || a.Profile != b.Profile || a.StructureID != b.StructureID || a.StructureKind != b.StructureKind {
		return false
	}
	if (a.UnitID == nil) != (b.UnitID == nil) {
		return false
	}
	return a.UnitID == nil || *a.UnitID == *b.UnitID
}
