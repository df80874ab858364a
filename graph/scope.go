package graph

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/dispatch"
	"passerelle/viewer"
)

// scopeCache remembers, for one operation, what the profile rules need about
// each request (field collection may have left those columns unselected).
type scopeCache struct {
	mu     sync.Mutex
	scopes map[uuid.UUID]authz.RequestScope
}

type scopeCacheKey struct{}

func withScopeCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, scopeCacheKey{}, &scopeCache{scopes: map[uuid.UUID]authz.RequestScope{}})
}

// requestScope reads a request's origin and dispatched units (as the
// system: a receiver must be recognised even though the other units'
// dispatches are hidden from them), once per operation.
func (r *Resolver) requestScope(ctx context.Context, id uuid.UUID) (authz.RequestScope, error) {
	cache, _ := ctx.Value(scopeCacheKey{}).(*scopeCache)
	if cache != nil {
		cache.mu.Lock()
		s, ok := cache.scopes[id]
		cache.mu.Unlock()
		if ok {
			return s, nil
		}
	}
	sys := viewer.System(ctx)
	req, err := r.Client.AdmissionRequest.Query().Where(admissionrequest.ID(id)).
		Select(admissionrequest.FieldOriginStructureID, admissionrequest.FieldOriginUnitID).Only(sys)
	if err != nil {
		return authz.RequestScope{}, err
	}
	ds, err := r.Client.Dispatch.Query().Where(dispatch.RequestID(id)).Select(dispatch.FieldUnitID).All(sys)
	if err != nil {
		return authz.RequestScope{}, err
	}
	s := scopeOf(req, ds)
	if cache != nil {
		cache.mu.Lock()
		cache.scopes[id] = s
		cache.mu.Unlock()
	}
	return s, nil
}

func scopeOf(req *ent.AdmissionRequest, ds []*ent.Dispatch) authz.RequestScope {
	s := authz.RequestScope{OriginStructure: req.OriginStructureID, OriginUnit: req.OriginUnitID}
	for _, d := range ds {
		s.DispatchedUnits = append(s.DispatchedUnits, d.UnitID)
	}
	return s
}
