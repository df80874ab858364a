package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"passerelle/server/reqctx"
	"passerelle/viewer"
)

// newGraphQL builds the gqlgen handler. Transports are tried in order and
// the first that matches wins: SSE (a POST with Accept: text/event-stream)
// must come before POST. No multipart or form transports: they would accept
// "simple" cross-site requests.
func (s *server) newGraphQL(schema graphql.ExecutableSchema, configure func(*handler.Server)) *handler.Server {
	srv := handler.New(schema)
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: s.cfg.WSKeepAlive})
	readLimit := s.cfg.MaxBodyBytes
	srv.AddTransport(transport.Websocket{
		Implementation: wsImplementation{inner: transport.CoderWebsocketImplementation{
			AcceptOptions: coderws.AcceptOptions{OriginPatterns: s.cfg.CORSOrigins},
		}},
		InitFunc:              s.wsInit,
		InitTimeout:           s.cfg.WSInitTimeout,
		KeepAlivePingInterval: s.cfg.WSKeepAlive, // graphql-ws: "ka" messages
		PingPongInterval:      s.cfg.WSKeepAlive, // graphql-transport-ws: ping, and close when no pong within twice the interval
		PayloadReadLimit:      &readLimit,
		ErrorFunc: func(ctx context.Context, err error) {
			s.log.DebugContext(ctx, "websocket error", "request_id", reqctx.RequestID(ctx), "error", err)
		},
		CloseFunc: func(ctx context.Context, code int) {
			s.log.DebugContext(ctx, "websocket closed", "request_id", reqctx.RequestID(ctx), "code", code)
		},
	})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{})

	srv.SetQueryCache(lru.New[*ast.QueryDocument](s.cfg.QueryCacheSize))
	if s.cfg.ParserTokenLimit > 0 {
		srv.SetParserTokenLimit(s.cfg.ParserTokenLimit)
	}
	if s.cfg.EnableIntrospection {
		srv.Use(extension.Introspection{})
	} else {
		// "Did you mean …?" would leak the schema that introspection hides.
		srv.SetDisableSuggestion(true)
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](s.cfg.QueryCacheSize)})
	srv.SetRecoverFunc(s.recoverGraphQL)
	if configure != nil {
		configure(srv)
	}
	return srv
}

// recoverGraphQL logs a resolver panic and answers INTERNAL without detail.
func (s *server) recoverGraphQL(ctx context.Context, p any) error {
	id := reqctx.RequestID(ctx)
	s.log.ErrorContext(ctx, "panic in GraphQL operation", "request_id", id,
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return &gqlerror.Error{
		Message:    "internal error",
		Extensions: map[string]any{"code": "INTERNAL", "requestId": id},
	}
}

// corsHandler answers CORS preflights and adds CORS headers for the
// configured origins; with none configured it adds nothing at all (rs/cors
// would otherwise allow every origin).
func (s *server) corsHandler(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins:   s.cfg.CORSOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Request-Id", "GraphQL-Require-Preflight"},
		ExposedHeaders:   []string{"X-Request-Id"},
		AllowCredentials: false,
		MaxAge:           600,
	}).Handler(next)
}

const allowedMethods = "GET, POST, OPTIONS"

func (s *server) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store") // responses hold personal data
	id := reqctx.RequestID(r.Context())

	if r.Header.Get("Upgrade") != "" {
		s.serveWebsocket(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if !s.getAllowed(r) {
			writeError(w, http.StatusForbidden, "FORBIDDEN",
				"cross-site GET requests must carry a header that forces a CORS preflight, such as GraphQL-Require-Preflight: 1", id)
			return
		}
	case http.MethodPost:
		mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mediaType != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "BAD_USER_INPUT",
				"unsupported Content-Type: POST requests must be application/json", id)
			return
		}
		if !s.readBody(w, r) {
			return
		}
	case http.MethodOptions:
		w.Header().Set("Allow", allowedMethods)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", allowedMethods)
		writeError(w, http.StatusMethodNotAllowed, "BAD_USER_INPUT", "method not allowed", id)
		return
	}

	r = r.WithContext(s.authenticate(r))
	if r.Method == http.MethodPost && strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		// An SSE stream: end it when the server shuts down.
		ctx, done, ok := trackStream(r.Context(), nil)
		if !ok {
			writeError(w, http.StatusServiceUnavailable, "INTERNAL", "server shutting down", id)
			return
		}
		defer done()
		// Like a websocket, an SSE stream ends when its session or a
		// habilitation it was opened with goes away.
		if v := viewer.FromContext(ctx); v != nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			s.sessions.watch(ctx, cancel, nil, reqctx.BearerToken(ctx), v)
		}
		r = r.WithContext(reqctx.WithStreaming(ctx))
		s.gql.ServeHTTP(w, r)
		return
	}
	serveBuffered(w, r, s.gql)
}

// serveBuffered runs a single-response request and adjusts what gqlgen
// writes to the GraphQL-over-HTTP recommendations: a document that failed to
// parse or validate (gqlgen: 422) answers 200 to a client that asked for
// application/json (4xx stays for application/graphql-response+json), and a
// 4xx response (the document never executed) carries no "data" member.
func serveBuffered(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &bufferedResponse{header: w.Header(), status: http.StatusOK}
	h.ServeHTTP(rec, r)
	status, body := rec.status, rec.bytes()
	if status >= 400 && status < 500 {
		var resp map[string]json.RawMessage
		if json.Unmarshal(body, &resp) == nil {
			if d, ok := resp["data"]; ok && string(d) == "null" {
				delete(resp, "data")
				if b, err := json.Marshal(resp); err == nil {
					body = b
				}
			}
		}
		if status == http.StatusUnprocessableEntity && !strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json") {
			status = http.StatusOK
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bufferedResponse holds a response until it is complete.
type bufferedResponse struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	adopted []byte // the whole body, handed over by adopt
}

func (b *bufferedResponse) Header() http.Header    { return b.header }
func (b *bufferedResponse) WriteHeader(status int) { b.status = status }

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.adopted != nil {
		b.body.Write(b.adopted)
		b.adopted = nil
	}
	return b.body.Write(p)
}

// adopt takes p as the body written so far, when nothing was, instead of
// copying it: writeAnswer hands over the answer it built and does not touch
// it again. A dashboard page is tens of kilobytes; the copy was one more
// allocation of its size per request.
func (b *bufferedResponse) adopt(p []byte) bool {
	if b.body.Len() > 0 || b.adopted != nil {
		return false
	}
	b.adopted = p
	return true
}

// bytes is the body written.
func (b *bufferedResponse) bytes() []byte {
	if b.adopted != nil {
		return b.adopted
	}
	return b.body.Bytes()
}

// readBody reads the whole body within MaxBodyBytes and checks it decodes
// as gqlgen will decode it, so that gqlgen never echoes (nor the SSE
// transport logs) a malformed body. It answers the error itself and
// returns false when the request must stop.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) bool {
	id := reqctx.RequestID(r.Context())
	max := s.cfg.MaxBodyBytes
	tooLarge := func() bool {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, "BAD_USER_INPUT",
			fmt.Sprintf("request body too large (limit %d bytes)", max), id)
		return false
	}
	if r.ContentLength > max {
		return tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge()
		}
		writeError(w, http.StatusBadRequest, "BAD_USER_INPUT", "could not read the request body", id)
		return false
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil || (params.Query == "" && params.Extensions["persistedQuery"] == nil) {
		writeError(w, http.StatusBadRequest, "BAD_USER_INPUT",
			`the request body must be a JSON object {"query": string, "operationName"?: string, "variables"?: object, "extensions"?: object}`, id)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}

// authenticate resolves the Authorization header. A rejected or malformed
// header does not stop the request: it goes on without viewer and the
// reason is kept for reqctx.AuthError, so that login works without a token
// and errors stay GraphQL-shaped.
func (s *server) authenticate(r *http.Request) context.Context {
	ctx := r.Context()
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return ctx
	}
	token, ok := "", len(values) == 1
	if ok {
		token, ok = parseBearer(values[0])
	}
	if !ok {
		return reqctx.WithAuth(ctx, "", reqctx.ErrMalformedAuthorization)
	}
	v, err := s.auth.Authenticate(ctx, token)
	if err == nil && v == nil {
		err = errNoViewer
	}
	if err != nil {
		return reqctx.WithAuth(ctx, token, err)
	}
	return viewer.NewContext(reqctx.WithAuth(ctx, token, nil), v)
}

// parseBearer returns the token of "Bearer <token>" (scheme case-insensitive).
func parseBearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, validToken(token)
}

// validToken accepts up to 4 KiB of visible ASCII without spaces.
func validToken(t string) bool {
	if t == "" || len(t) > 4096 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}

// preflightHeaders are request headers a browser sends cross-origin only
// after a successful CORS preflight.
var preflightHeaders = []string{
	"Authorization", "GraphQL-Require-Preflight", "X-Requested-With",
	"Apollo-Require-Preflight", "X-Apollo-Operation-Name",
}

// getAllowed is the CSRF guard of GET (see the package documentation).
func (s *server) getAllowed(r *http.Request) bool {
	for _, h := range preflightHeaders {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return true // not safelisted either
		}
		switch mediaType {
		case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		default:
			return true
		}
	}
	origin := r.Header.Get("Origin")
	if origin != "" && s.origins.allows(origin) {
		return true // a CORS request from a configured origin
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none": // "none": typed in the address bar, a bookmark
		return true
	case "": // not a browser, or one without Fetch metadata
		return origin == "" || sameHost(origin, r.Host)
	default: // "cross-site", "same-site"
		return false
	}
}

func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// normalizeOrigins lower-cases origins and drops empty entries and trailing
// slashes.
func normalizeOrigins(list []string) []string {
	var out []string
	for _, o := range list {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		if o != "" {
			out = append(out, o)
		}
	}
	return out
}

// originSet matches origins the way rs/cors does: "*" allows all, an entry
// may hold one "*" standing for any characters, comparison ignores case.
type originSet struct {
	all   bool
	exact map[string]bool
	wild  [][2]string // prefix, suffix
}

func newOriginSet(origins []string) originSet {
	o := originSet{exact: map[string]bool{}}
	for _, p := range origins {
		switch {
		case p == "*":
			o.all = true
		case strings.Contains(p, "*"):
			pre, suf, _ := strings.Cut(p, "*")
			o.wild = append(o.wild, [2]string{pre, suf})
		default:
			o.exact[p] = true
		}
	}
	return o
}

func (o originSet) allows(origin string) bool {
	if o.all {
		return true
	}
	origin = strings.ToLower(origin)
	if o.exact[origin] {
		return true
	}
	for _, w := range o.wild {
		if len(origin) >= len(w[0])+len(w[1]) && strings.HasPrefix(origin, w[0]) && strings.HasSuffix(origin, w[1]) {
			return true
		}
	}
	return false
}
