package graph

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/dispatch"
	"passerelle/enums"
)

// scopeCache remembers, for one operation, the actions the viewer holds on
// each request, so that the three sections of a request cost one decision.
type scopeCache struct {
	mu      sync.Mutex
	actions map[uuid.UUID]map[authz.Action]bool
	// medicalReads are the requests whose medical section was read, logged
	// in one write when the root field is done.
	medicalReads []uuid.UUID
	// writing are the outcomes of access-log writes started early
	// (startMedicalLog), which the root field waits for too.
	writing []<-chan error
	// received are the kept section versions read for a page, by kind
	// (section).
	received map[enums.SectionKind]*receivedBatch
}

// noteMedicalRead records a reading of a medical section for the access log.
func noteMedicalRead(ctx context.Context, id uuid.UUID) bool {
	cache, _ := ctx.Value(scopeCacheKey{}).(*scopeCache)
	if cache == nil {
		return false
	}
	cache.mu.Lock()
	cache.medicalReads = append(cache.medicalReads, id)
	cache.mu.Unlock()
	return true
}

// startMedicalLog starts writing the access log of the medical reads noted
// so far, while the caller goes on (the direct reads render their page
// meanwhile); flushMedicalReads, at the end of the root field, waits for
// it: nothing is answered before its readings are committed.
func (r *Resolver) startMedicalLog(ctx context.Context) {
	cache, _ := ctx.Value(scopeCacheKey{}).(*scopeCache)
	if cache == nil {
		return
	}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	ids := cache.medicalReads
	if len(ids) == 0 {
		return
	}
	cache.medicalReads = nil
	done := make(chan error, 1)
	go func() { done <- r.Workflow.LogMedicalRead(ctx, ids) }()
	cache.writing = append(cache.writing, done)
}

// flushMedicalReads writes the access log of a root field's medical reads,
// and waits for the writes startMedicalLog started; it returns the first
// error.
func (r *Resolver) flushMedicalReads(ctx context.Context) error {
	cache, _ := ctx.Value(scopeCacheKey{}).(*scopeCache)
	if cache == nil {
		return nil
	}
	cache.mu.Lock()
	ids, writing := cache.medicalReads, cache.writing
	cache.medicalReads, cache.writing = nil, nil
	cache.mu.Unlock()
	var first error
	for _, done := range writing {
		if err := <-done; err != nil && first == nil {
			first = err
		}
	}
	if err := r.Workflow.LogMedicalRead(ctx, ids); err != nil && first == nil {
		first = err
	}
	return first
}

type scopeCacheKey struct{}

func withScopeCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, scopeCacheKey{}, &scopeCache{actions: map[uuid.UUID]map[authz.Action]bool{},
		received: map[enums.SectionKind]*receivedBatch{}})
}

// actionsOn returns the viewer's actions on a request it can see. The origin
// columns are always loaded (rule.KeepScopeColumns); the dispatches are read
// only when the profile table needs them (authz.OnVisibleRequest), through
// the viewer's row rules: a receiver sees its own units' dispatches, which is
// all that decides its rights.
func (r *Resolver) actionsOn(ctx context.Context, req *ent.AdmissionRequest) (map[authz.Action]bool, error) {
	cache, _ := ctx.Value(scopeCacheKey{}).(*scopeCache)
	if cache != nil {
		cache.mu.Lock()
		a, ok := cache.actions[req.ID]
		cache.mu.Unlock()
		if ok {
			return a, nil
		}
	}
	v, err := r.signedIn(ctx)
	if err != nil {
		return nil, err
	}
	scope := authz.RequestScope{OriginStructure: req.OriginStructureID, OriginUnit: req.OriginUnitID}
	actions, err := authz.OnVisibleRequest(v, scope, func() ([]uuid.UUID, error) {
		ds, err := r.Client.Dispatch.Query().Where(dispatch.RequestID(req.ID)).Select(dispatch.FieldUnitID).All(ctx)
		units := make([]uuid.UUID, len(ds))
		for i, d := range ds {
			units[i] = d.UnitID
		}
		return units, err
	})
	if err != nil {
		return nil, err
	}
	if cache != nil {
		cache.mu.Lock()
		cache.actions[req.ID] = actions
		cache.mu.Unlock()
	}
	return actions, nil
}
