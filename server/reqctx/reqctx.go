// Package reqctx carries what the HTTP layer learnt about a request (its id,
// the client's address, the bearer token and why it was rejected) to the
// GraphQL layer through the context.
//
// It is a leaf package so that resolvers can read these values without
// importing package server (imports point one way: server → graph). The
// setters are for package server; anything else only reads.
package reqctx

import (
	"context"
	"errors"
	"sync"
)

// ErrMalformedAuthorization is the AuthError of a request whose Authorization
// header (or connection_init token) is not of the form "Bearer <token>".
var ErrMalformedAuthorization = errors.New(`malformed Authorization header; expected "Bearer <token>"`)

type requestIDKey struct{}
type clientAddrKey struct{}
type authKey struct{}

type auth struct {
	token string
	err   error
}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id of the HTTP request (or websocket connection)
// that ctx belongs to, as sent back in the X-Request-Id response header;
// "" outside a request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithClientAddr returns ctx carrying the client's IP address.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr returns the client's IP address, without port: the peer of the
// TCP connection, or, when the server is configured to trust a reverse proxy,
// the address that proxy reported in X-Forwarded-For. "" outside a request.
func ClientAddr(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddrKey{}).(string)
	return addr
}

// WithAuth returns ctx carrying the bearer token sent with the request and,
// when it was rejected, the error that rejected it.
func WithAuth(ctx context.Context, token string, err error) context.Context {
	return context.WithValue(ctx, authKey{}, auth{token: token, err: err})
}

// BearerToken returns the bearer token the request carried ("" if none).
// On a websocket it is the token of connection_init.
func BearerToken(ctx context.Context) string {
	a, _ := ctx.Value(authKey{}).(auth)
	return a.token
}

// AuthError returns why the credentials of the request were rejected: the
// error of Authenticate (unknown, expired, idle or revoked token),
// ErrMalformedAuthorization, or nil when the request carried no credentials
// or valid ones. The HTTP layer never refuses a request for this reason (an
// anonymous operation such as login must still work); resolvers that need a
// viewer answer UNAUTHENTICATED with this error.
func AuthError(ctx context.Context) error {
	a, _ := ctx.Value(authKey{}).(auth)
	return a.err
}

// Budget counts the subscriptions of one websocket connection.
type Budget struct {
	mu  sync.Mutex
	n   int
	max int
}

// NewBudget allows max concurrent subscriptions.
func NewBudget(max int) *Budget { return &Budget{max: max} }

// Acquire takes a place, or reports that the connection is full.
func (b *Budget) Acquire() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n >= b.max {
		return false
	}
	b.n++
	return true
}

// Release gives a place back.
func (b *Budget) Release() {
	b.mu.Lock()
	b.n--
	b.mu.Unlock()
}

type budgetKey struct{}

// WithBudget returns ctx carrying a connection's subscription budget.
func WithBudget(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// SubscriptionBudget returns the connection's budget, nil outside websockets.
func SubscriptionBudget(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

type streamingKey struct{}

// WithStreaming marks a request served over a streaming transport (SSE or
// websocket), the only ones that carry subscriptions.
func WithStreaming(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamingKey{}, true)
}

// Streaming reports whether the request can carry a subscription.
func Streaming(ctx context.Context) bool {
	b, _ := ctx.Value(streamingKey{}).(bool)
	return b
}
