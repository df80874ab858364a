// Package server builds Passerelle's HTTP handler: the GraphQL endpoint and
// its transports (SSE, graphql-transport-ws websockets, GET, POST), bearer
// authentication, CORS, request limits, security headers, the access log,
// health probes and the in-browser IDE.
//
// # Routes
//
//	/graphql     GraphQL: POST (application/json), GET (queries only),
//	             Server-Sent Events (POST with Accept: text/event-stream) and
//	             websockets (graphql-transport-ws, and the legacy graphql-ws).
//	/healthz     200 "ok" as soon as the process serves.
//	/readyz      200 once Deps.Ready says so, 503 with the reason otherwise.
//	/, /playground  the IDE when Config.EnableIDE (404 otherwise).
//
// # Cross-site request forgery
//
// Credentials travel only in the Authorization header (never in cookies), so
// a browser never attaches them on its own to a request another site makes.
// On top of that:
//
//   - POST accepts only Content-Type: application/json (415 otherwise). That
//     type is not CORS-safelisted, so a browser sends a cross-origin POST only
//     after a successful preflight, i.e. from a configured origin. There are
//     no multipart or form transports.
//   - GET runs queries only (gqlgen answers 406 to mutations and
//     subscriptions). A GET that a browser marks as coming from another site
//     (Sec-Fetch-Site: cross-site or same-site; for browsers without Fetch
//     metadata, an Origin of another host) is refused with 403 unless it
//     comes from a configured CORS origin or carries a header that forced a
//     CORS preflight: Authorization, GraphQL-Require-Preflight,
//     X-Requested-With, Apollo-Require-Preflight, X-Apollo-Operation-Name, or
//     a Content-Type other than the three "simple" ones. Same-origin browser
//     GETs and non-browser clients (no Fetch metadata, no foreign Origin) need
//     no extra header, which keeps the graphql-http audit (and curl) working.
//   - Websocket upgrades are accepted from the same host or a configured CORS
//     origin only (checked here and again by coder/websocket's
//     OriginPatterns).
package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"passerelle/metrics"
	"passerelle/server/ide"
	"passerelle/server/reqctx"
	"passerelle/viewer"
)

// Config tunes the handler. The zero value is a safe production setting:
// no CORS, no IDE, no introspection, default limits.
type Config struct {
	CORSOrigins         []string      // allowed origins, e.g. "https://app.example.org" (one "*" wildcard allowed, as in rs/cors); none by default
	EnableIDE           bool          // serve the IDE at / and /playground
	EnableIntrospection bool          // allow __schema / __type queries (the IDE needs them for its docs)
	MaxBodyBytes        int64         // request body (and websocket message) limit; default 1 MiB
	WSKeepAlive         time.Duration // websocket ping (graphql-transport-ws) / ka (graphql-ws) and SSE keep-alive interval; default 15s
	WSInitTimeout       time.Duration // time allowed between the upgrade and connection_init; default 10s
	ReauthInterval      time.Duration // re-check a websocket's token that often; on failure close the connection; default 5s
	BehindTLS           bool          // the public endpoint is HTTPS: send Strict-Transport-Security
	QueryCacheSize      int           // parsed-query LRU (and APQ cache) entries; default 1000
	// TrustProxy makes ClientAddr use the last address of X-Forwarded-For,
	// i.e. the client as seen by the one reverse proxy in front of the
	// server. Leave it off when clients reach the server directly: the header
	// would then be theirs to forge.
	TrustProxy bool
	// MaxConnectionsPerUser caps a user's open websocket connections
	// (default 20); MaxSubscriptionsPerConnection caps the subscriptions of
	// one connection (default 50).
	MaxConnectionsPerUser         int
	MaxSubscriptionsPerConnection int
	// ParserTokenLimit caps the number of tokens of a GraphQL document;
	// default 15000, negative for no limit.
	ParserTokenLimit int
}

// Authenticator turns a bearer token into a viewer.
type Authenticator interface {
	// Authenticate returns the viewer for a bearer token, an *apperr.Error
	// (UNAUTHENTICATED) when the token is unknown, expired, idle or revoked,
	// or another error when it could not be checked (e.g. the database).
	Authenticate(ctx context.Context, token string) (*viewer.Viewer, error)
}

// Deps are what the handler needs from the rest of the program.
type Deps struct {
	Schema graphql.ExecutableSchema
	Auth   Authenticator
	Ready  func(ctx context.Context) error // nil error = ready; a nil func is always ready
	Logger *slog.Logger                    // nil: discard
	// Metrics, when set, follows the open websocket connections.
	Metrics *metrics.Metrics
	// Configure, when set, is called with the gqlgen handler after transports are added so the graph layer can add extensions (complexity, error presenter, field middleware).
	Configure func(*handler.Server)
}

const (
	defaultMaxBodyBytes     = 1 << 20
	defaultWSKeepAlive      = 15 * time.Second
	defaultWSInitTimeout    = 10 * time.Second
	defaultReauthInterval   = 5 * time.Second
	defaultQueryCacheSize   = 1000
	defaultParserTokenLimit = 15000

	readyTimeout = 2 * time.Second
	authTimeout  = 10 * time.Second

	// ContentSecurityPolicy is sent with every response but the IDE's,
	// which sets its own (ide.ContentSecurityPolicy).
	ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"
	hsts                  = "max-age=63072000; includeSubDomains"
)

func (c *Config) defaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	if c.WSKeepAlive <= 0 {
		c.WSKeepAlive = defaultWSKeepAlive
	}
	if c.WSInitTimeout <= 0 {
		c.WSInitTimeout = defaultWSInitTimeout
	}
	if c.ReauthInterval <= 0 {
		c.ReauthInterval = defaultReauthInterval
	}
	if c.QueryCacheSize <= 0 {
		c.QueryCacheSize = defaultQueryCacheSize
	}
	if c.MaxConnectionsPerUser <= 0 {
		c.MaxConnectionsPerUser = 20
	}
	if c.MaxSubscriptionsPerConnection <= 0 {
		c.MaxSubscriptionsPerConnection = 50
	}
	if c.ParserTokenLimit == 0 {
		c.ParserTokenLimit = defaultParserTokenLimit
	}
}

type server struct {
	cfg      Config
	auth     Authenticator
	ready    func(ctx context.Context) error
	log      *slog.Logger
	origins  originSet
	gql      *handler.Server
	conns    connCounter
	sessions *sessionWatcher
	metrics  *metrics.Metrics
}

// New returns the HTTP handler of the whole API. It panics when deps.Schema
// or deps.Auth is missing (a programming error).
func New(cfg Config, deps Deps) http.Handler {
	if deps.Schema == nil || deps.Auth == nil {
		panic("server: Deps.Schema and Deps.Auth are required")
	}
	cfg.defaults()
	cfg.CORSOrigins = normalizeOrigins(cfg.CORSOrigins)
	s := &server{
		cfg:     cfg,
		auth:    deps.Auth,
		ready:   deps.Ready,
		log:     deps.Logger,
		origins: newOriginSet(cfg.CORSOrigins),
		metrics: deps.Metrics,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.sessions = newSessionWatcher(s, cfg.ReauthInterval)
	s.gql = s.newGraphQL(deps.Schema, deps.Configure)

	mux := http.NewServeMux()
	mux.Handle("/graphql", s.corsHandler(http.HandlerFunc(s.serveGraphQL)))
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/readyz", s.readyz)
	if cfg.EnableIDE {
		ide.Mount(mux, "/")
		ide.Mount(mux, "/playground")
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			http.NotFound(w, r)
		})
	}
	return s.middleware(mux)
}

// middleware is what every response goes through: request id and client
// address in the context, security headers, panic recovery, access log.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		client := clientAddr(r, s.cfg.TrustProxy)
		ctx := reqctx.WithClientAddr(reqctx.WithRequestID(r.Context(), id), client)
		r = r.WithContext(ctx)

		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", ContentSecurityPolicy) // the IDE replaces it with its own
		if s.cfg.BehindTLS {
			h.Set("Strict-Transport-Security", hsts)
		}

		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic serving HTTP request", "request_id", id,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, "INTERNAL", "internal error", id)
				}
			}
			s.accessLog(ctx, r, rec, id, client, time.Since(start))
		}()
		next.ServeHTTP(rec, r)
	})
}

func (s *server) accessLog(ctx context.Context, r *http.Request, rec *statusRecorder, id, client string, d time.Duration) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	if (r.URL.Path == "/healthz" || r.URL.Path == "/readyz") && status < 400 {
		level = slog.LevelDebug // probes would drown the log
	}
	// Never the query string (GET variables may hold personal data), the
	// Authorization header or the body.
	s.log.LogAttrs(ctx, level, "http request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.Int64("bytes", rec.bytes),
		slog.String("request_id", id),
		slog.String("client", client),
	)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	writeText(w, http.StatusOK, "ok\n")
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
			return
		}
	}
	writeText(w, http.StatusOK, "ready\n")
}

func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeText(w, http.StatusMethodNotAllowed, "method not allowed\n")
	return false
}

func writeText(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// writeError answers with a GraphQL-shaped JSON error:
// {"errors":[{"message":…,"extensions":{"code":…}}]}.
func writeError(w http.ResponseWriter, status int, code, message, requestID string) {
	ext := map[string]any{"code": code}
	if requestID != "" {
		ext["requestId"] = requestID
	}
	body, _ := json.Marshal(struct {
		Errors gqlerror.List `json:"errors"`
	}{gqlerror.List{{Message: message, Extensions: ext}}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}$`)

// validRequestID accepts a caller's id when it is short and harmless in
// logs and headers.
func validRequestID(id string) bool { return id != "" && requestIDPattern.MatchString(id) }

// clientAddr is the client's IP address: the TCP peer, or, behind a trusted
// proxy, the last X-Forwarded-For entry (the address the proxy saw).
func clientAddr(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
			last := values[len(values)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				return a.Unmap().WithZone("").String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return host
}

// statusRecorder remembers the status and size of a response for the
// access log. It keeps the writer's Flush (SSE) and Hijack (websockets).
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 || r.status < 200 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

var errNoViewer = errors.New("authenticator returned no viewer")
