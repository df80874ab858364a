package graph

import (
	"context"
	"log/slog"
	"passerelle/graph/direct"

	"passerelle/apperr"
	"passerelle/auth"
	"passerelle/directory"
	"passerelle/ent"
	"passerelle/events"
	"passerelle/stats"
	"passerelle/viewer"
	"passerelle/workflow"
)

// Resolver holds the services the resolvers adapt to GraphQL. Resolvers stay
// thin: they convert inputs, call one service, and return its result.
type Resolver struct {
	Client    *ent.Client
	Auth      *auth.Service
	Workflow  *workflow.Service
	Directory *directory.Service
	// Stats computes the statistics (cached as it is configured).
	Stats  *stats.Service
	Broker *events.Broker
	Logger *slog.Logger
	// AuthError returns why a bearer token given with the request was
	// rejected (nil when none was given or it was accepted).
	AuthError func(context.Context) error
	// ClientAddr returns the caller's address (sign-in throttling).
	ClientAddr func(context.Context) string
	// Limits bound depth, complexity, page sizes and mutation rates.
	Limits Limits
	// Direct reads the selections it can compile with one statement
	// (DirectReads); nil: the resolvers answer everything.
	Direct *direct.Schema
}

// signedIn returns the viewer or UNAUTHENTICATED with the reason the token
// was refused.
func (r *Resolver) signedIn(ctx context.Context) (*viewer.Viewer, error) {
	if v := viewer.FromContext(ctx); v != nil {
		return v, nil
	}
	if r.AuthError != nil {
		if err := r.AuthError(ctx); err != nil {
			return nil, err
		}
	}
	return nil, apperr.New(apperr.Unauthenticated, "sign in first")
}

func (r *Resolver) clientAddr(ctx context.Context) string {
	if r.ClientAddr == nil {
		return ""
	}
	return r.ClientAddr(ctx)
}
