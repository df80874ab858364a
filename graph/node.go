package graph

import (
	"context"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/dispatch"
	"passerelle/ent/habilitation"
	"passerelle/ent/structure"
	"passerelle/ent/unit"
	"passerelle/ent/user"
)

// nodeTables are the types reachable through node(id:). Sections, patients
// and messages are not: they are read through their request, where the
// field rules apply.
var nodeTables = []string{
	admissionrequest.Table, dispatch.Table, unit.Table, structure.Table, user.Table, habilitation.Table,
}

// node resolves a global ID as the viewer sees it: unknown and invisible
// rows give the same NOT_FOUND.
func (r *Resolver) node(ctx context.Context, id uuid.UUID) (ent.Noder, error) {
	for _, table := range nodeTables {
		n, err := r.Client.Noder(ctx, id, ent.WithFixedNodeType(table))
		if err == nil {
			return n, nil
		}
		if !ent.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, apperr.NotFoundError("node")
}
