package graph

import (
	"context"

	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/enums"
)

// section is a request's section as the viewer reads it, once the @section
// directive has allowed the field: the row as it is when its row rule shows
// it, else the version a closed dispatch's unit had received
// (workflow.ReceivedSection), else null.
func section[T any](ctx context.Context, r *Resolver, requestID uuid.UUID, kind enums.SectionKind, current func(context.Context) (*T, error)) (*T, error) {
	s, err := current(ctx)
	if s != nil || err != nil {
		return s, err
	}
	kept := new(T)
	ok, err := r.Workflow.ReceivedSection(ctx, requestID, kind, kept)
	if !ok || err != nil {
		return nil, err
	}
	return kept, nil
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
