package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/enums"
	"passerelle/viewer"
	"passerelle/workflow"
)

// section is a request's section as the viewer reads it, once the @section
// directive has allowed the field: the row as it is when its row rule shows
// it, else the version a closed dispatch's unit had received
// (workflow.ReceivedSections), else null. The versions are read once per
// operation and kind for every request of the page that lacks its section
// (pageRequests), not once per request.
func section[T any](ctx context.Context, r *Resolver, obj *ent.AdmissionRequest, kind enums.SectionKind,
	current func(*ent.AdmissionRequest, context.Context) (*T, error), loaded func(ent.AdmissionRequestEdges) (*T, error)) (*T, error) {
	s, err := current(obj, ctx)
	if s != nil || err != nil {
		return s, err
	}
	v := viewer.FromContext(ctx)
	if v == nil || len(v.ReceivingUnits) == 0 {
		return nil, nil // only a receiver reads kept versions
	}
	cache, _ := ctx.Value(scopeCacheKey{}).(*scopeCache)
	if cache == nil {
		kept, err := workflow.ReceivedSections[T](ctx, r.Workflow, []uuid.UUID{obj.ID}, kind)
		return kept[obj.ID], err
	}
	cache.mu.Lock()
	b, ok := cache.received[kind]
	if !ok {
		b = &receivedBatch{}
		cache.received[kind] = b
	}
	cache.mu.Unlock()
	b.once.Do(func() {
		// The requests of the page whose section the row rule hid (loaded,
		// and absent), this one included.
		ids := []uuid.UUID{obj.ID}
		for _, req := range pageRequests(ctx) {
			if _, err := loaded(req.Edges); ent.IsNotFound(err) && req.ID != obj.ID {
				ids = append(ids, req.ID)
			}
		}
		kept, err := workflow.ReceivedSections[T](ctx, r.Workflow, ids, kind)
		b.covered, b.err = map[uuid.UUID]any{}, err
		for _, id := range ids {
			b.covered[id] = kept[id]
		}
	})
	if b.err != nil {
		return nil, b.err
	}
	if kept, ok := b.covered[obj.ID]; ok {
		return kept.(*T), nil
	}
	// A request of another list of the operation.
	kept, err := workflow.ReceivedSections[T](ctx, r.Workflow, []uuid.UUID{obj.ID}, kind)
	return kept[obj.ID], err
}

// receivedBatch is the kept versions of one kind read for a page.
type receivedBatch struct {
	once    sync.Once
	covered map[uuid.UUID]any // *T by request, nil when none is kept
	err     error
}

// pageRequests are the requests of the list (or connection) the field being
// resolved belongs to, as gqlgen holds them in the field contexts above it;
// none when it is not in a list of requests.
func pageRequests(ctx context.Context) []*ent.AdmissionRequest {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		switch list := fc.Result.(type) {
		case []*ent.AdmissionRequest:
			return list
		case []*ent.AdmissionRequestEdge:
			out := make([]*ent.AdmissionRequest, 0, len(list))
			for _, e := range list {
				if e != nil && e.Node != nil {
					out = append(out, e.Node)
				}
			}
			return out
		}
	}
	return nil
}

// userByKey resolves a to-one edge to a user from its key column: the
// eager-loaded edge when there is one, else a read under the viewer's row
// rule — the same answer as ent's edge query, also for a kept section
// version, which is not attached to a client.
func (r *Resolver) userByKey(ctx context.Context, loaded func() (*ent.User, error), id *uuid.UUID) (*ent.User, error) {
	if u, err := loaded(); !ent.IsNotLoaded(err) {
		return u, ent.MaskNotFound(err)
	}
	if id == nil {
		return nil, nil
	}
	u, err := r.Client.User.Get(ctx, *id)
	return u, ent.MaskNotFound(err)
}
