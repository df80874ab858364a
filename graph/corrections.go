package graph

import (
	"context"

	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/ent/user"
	"passerelle/graph/model"
)

// identityCorrections are the request's identity corrections as the viewer
// may read them, with their authors read in one statement under the
// viewer's row rule (an author it may not see is null).
func (r *Resolver) identityCorrections(ctx context.Context, requestID uuid.UUID) ([]*model.IdentityCorrection, error) {
	cs, err := r.Workflow.IdentityCorrections(ctx, requestID)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return []*model.IdentityCorrection{}, nil
	}
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.By
	}
	users, err := r.Client.User.Query().Where(user.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	by := make(map[uuid.UUID]*ent.User, len(users))
	for _, u := range users {
		by[u.ID] = u
	}
	out := make([]*model.IdentityCorrection, len(cs))
	for i, c := range cs {
		out[i] = &model.IdentityCorrection{CorrectedAt: c.At, CorrectedBy: by[c.By], Before: c.Before}
	}
	return out, nil
}
