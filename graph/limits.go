package graph

import (
	"context"
	"fmt"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"passerelle/apperr"
	"passerelle/ent"
	"passerelle/graph/generated"
	"passerelle/server/reqctx"
	"passerelle/viewer"
)

// Limits bound what one operation may ask for.
type Limits struct {
	MaxDepth      int // selection depth (default 15: the IDE's introspection query needs 13)
	MaxComplexity int // weighted field count (default 5000)
	MaxPageSize   int // first/last of a connection (default 100)
	DefaultPage   int // page size when neither first nor last is given (default 50)
	// MutationsPerMinute and MutationBurst limit each user's mutations
	// (defaults 300 and 60).
	MutationsPerMinute int
	MutationBurst      int
	// OperationTimeout bounds a query's or a mutation's execution, over
	// HTTP and over a websocket alike (default DefaultOperationTimeout;
	// negative: none). Subscriptions are not bounded. Without it, a request
	// waiting for a pooled connection or a row lock waited as long as its
	// client did, holding what it held.
	OperationTimeout time.Duration
}

// DefaultOperationTimeout is Limits.OperationTimeout's default: well above
// the slowest operation measured (the country's yearly statistics, 16 s on
// SQLite; docs/performance.md).
const DefaultOperationTimeout = time.Minute

func (l *Limits) defaults() {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 15
	}
	if l.MaxComplexity <= 0 {
		l.MaxComplexity = 5000
	}
	if l.MaxPageSize <= 0 {
		l.MaxPageSize = 100
	}
	if l.DefaultPage <= 0 {
		l.DefaultPage = 50
	}
	if l.MutationsPerMinute <= 0 {
		l.MutationsPerMinute = 300
	}
	if l.MutationBurst <= 0 {
		l.MutationBurst = 60
	}
	if l.OperationTimeout == 0 {
		l.OperationTimeout = DefaultOperationTimeout
	}
}

// page checks first/last against the maximum page size and gives a default
// page when neither is set: a connection never returns an unbounded list.
func (l Limits) page(first, last *int) (*int, *int, error) {
	limits := l
	limits.defaults()
	for name, n := range map[string]*int{"first": first, "last": last} {
		if n != nil && (*n < 0 || *n > limits.MaxPageSize) {
			return nil, nil, apperr.BadInput(name, "%s must be between 0 and %d", name, limits.MaxPageSize)
		}
	}
	if first == nil && last == nil {
		n := limits.DefaultPage
		first = &n
	}
	return first, last, nil
}

// weight is the complexity of a connection: its page size times its items.
func (l Limits) weight(child int, first, last *int) int {
	n := l.DefaultPage
	if first != nil {
		n = *first
	} else if last != nil {
		n = *last
	}
	if n < 1 {
		n = 1
	}
	return 1 + n*child
}

// complexity weights connections by the page asked for.
func (l Limits) complexity(c *generated.ComplexityRoot) {
	l.defaults()
	weight := l.weight
	c.Query.AdmissionRequests = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ []*ent.AdmissionRequestOrder, _ *ent.AdmissionRequestWhereInput) int {
		return weight(child, first, last)
	}
	c.Query.Structures = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ []*ent.StructureOrder, _ *ent.StructureWhereInput) int {
		return weight(child, first, last)
	}
	c.Query.Units = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ []*ent.UnitOrder, _ *ent.UnitWhereInput) int {
		return weight(child, first, last)
	}
	c.Query.Users = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ []*ent.UserOrder, _ *ent.UserWhereInput) int {
		return weight(child, first, last)
	}
	c.Query.Inbox = func(child int, _ uuid.UUID, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ *ent.DispatchWhereInput) int {
		return weight(child, first, last)
	}
	c.Structure.Units = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ []*ent.UnitOrder, _ *ent.UnitWhereInput) int {
		return weight(child, first, last)
	}
	c.Query.Nodes = func(child int, ids []uuid.UUID) int { return 1 + len(ids)*child }
}

// Install adds the operation limits (and the per-operation cache of request
// scopes) to the handler. The limits are the resolver's (NewSchema).
func (r *Resolver) Install(h *handler.Server) {
	l := r.Limits
	l.defaults()
	h.Use(extension.FixedComplexityLimit(l.MaxComplexity))
	h.AroundRootFields(newMutationLimiter(l.MutationsPerMinute, l.MutationBurst).limitMutations)
	h.AroundRootFields(r.DirectReads)
	h.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation.Operation == ast.Subscription && !reqctx.Streaming(ctx) {
			// Over plain POST/GET the first event would be awaited forever.
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    "subscriptions go over a websocket (graphql-transport-ws) or SSE (Accept: text/event-stream)",
				Extensions: map[string]any{"code": string(apperr.BadUserInput)},
			}}})
		}
		if d := depth(oc.Doc, oc.Operation.SelectionSet, 0, map[string]bool{}); d > l.MaxDepth {
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    fmt.Sprintf("the query is %d levels deep; the limit is %d", d, l.MaxDepth),
				Extensions: map[string]any{"code": string(apperr.BadUserInput)},
			}}})
		}
		if oc.Operation.Operation == ast.Subscription {
			// Root-field middleware (AccessGate, LogReads) does not run for
			// subscriptions: the gate is applied here. No operation-wide
			// scope cache either: rights are decided afresh for each event
			// (a dispatch may have changed since the last one), and the
			// @section directive, finding no cache, logs each medical
			// reading before its field is served (the access logger
			// commits concurrent readings together).
			if err := accessDenied(viewer.FromContext(ctx), rootField(oc)); err != nil {
				ae := apperr.From(err)
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
					Message: ae.Message, Extensions: map[string]any{"code": string(ae.Code)},
				}}})
			}
			return next(ctx)
		}
		return next(withScopeCache(ctx))
	})
	if l.OperationTimeout > 0 {
		// Around the execution of a query or mutation (the response
		// handler runs its resolvers); a subscription's handler runs once
		// per event and is left alone.
		h.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
			if oc := graphql.GetOperationContext(ctx); oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
				return next(ctx)
			}
			ctx, cancel := context.WithTimeoutCause(ctx, l.OperationTimeout, apperr.ErrOperationTimeout)
			defer cancel()
			return next(ctx)
		})
	}
}

// rootField is the first root field of the operation ("" if none).
func rootField(oc *graphql.OperationContext) string {
	for _, sel := range oc.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			return f.Name
		}
	}
	return ""
}

// depth measures a selection set, following fragments (each once per path).
func depth(doc *ast.QueryDocument, set ast.SelectionSet, level int, seen map[string]bool) int {
	deepest := level
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = level + 1
			} else {
				d = depth(doc, s.SelectionSet, level+1, seen)
			}
		case *ast.InlineFragment:
			d = depth(doc, s.SelectionSet, level, seen)
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			f := doc.Fragments.ForName(s.Name)
			if f == nil {
				continue
			}
			seen[s.Name] = true
			d = depth(doc, f.SelectionSet, level, seen)
			delete(seen, s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}
