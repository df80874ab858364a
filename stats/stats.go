// Package stats computes the activity indicators of the domain brief from
// requests and dispatches: aggregates only, never patient-level data.
//
// The indicators are computed by the database (aggregate.go): the scope of
// the viewer and the filters become the WHERE clause of a handful of
// aggregate queries (on the dispatches, as a subquery), so that neither the
// memory used nor the number of bound parameters grows with the number of
// requests in scope.
package stats

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/dispatch"
	"passerelle/ent/predicate"
	"passerelle/ent/structure"
	"passerelle/ent/unit"
	"passerelle/enums"
	"passerelle/viewer"
)

// Filter narrows the statistics.
type Filter struct {
	From, To   *time.Time
	Department *string
	UnitID     *uuid.UUID
	OriginKind *enums.StructureKind
}

// Count is one bucket.
type Count struct {
	Key   string
	Count int
}

// Report holds the indicators.
type Report struct {
	Requests, Sent, Confirmed, Admitted, Cancelled int
	AdmissionRate, UnitsPerRequest                 *float64
	MedianSendToRead, MedianSendToAnswer           *float64 // minutes
	MedianSendToAdmission                          *float64
	// MedianDesiredToAdmissionDays: admission day − desired admission date.
	MedianDesiredToAdmissionDays            *float64
	UnansweredShare                         *float64
	RefusalsByReason, CancellationsByReason []Count
	// DeathsBeforeAdmission: requests cancelled for the patient's death, or
	// not admitted for it.
	DeathsBeforeAdmission               int
	NonAdmissionsByReason               []Count
	ByOriginKind, ByDepartment, ByMonth []Count
	// ComputedAt is when the computation started: the figures count what
	// was committed then (a cached report is as old as this says).
	ComputedAt time.Time
}

// Compute checks the viewer's right (OBSERVER: the region; referents: their
// structure, as origin or as receiver) and computes the report.
func Compute(ctx context.Context, client *ent.Client, f Filter) (*Report, error) {
	scope, _, err := scopeOf(ctx, f)
	if err != nil {
		return nil, err
	}
	return computeScope(ctx, client, scope, time.Now)
}

// computeScope waits for room (computing), then aggregates as the system:
// a referent's indicators include requests whose rows they may not read,
// so the right is checked before (scopeOf).
func computeScope(ctx context.Context, client *ent.Client, scope []predicate.AdmissionRequest, now func() time.Time) (*Report, error) {
	select {
	case computing <- struct{}{}:
		defer func() { <-computing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	at := now().UTC()
	rep, err := aggregate(viewer.System(ctx), client, scope)
	if err != nil {
		return nil, err
	}
	rep.ComputedAt = at
	return rep, nil
}

// computing bounds the reports computed at once, one per CPU: a report
// holds a database connection for as long as it aggregates (on SQLite
// 0.5 s for the region's year, 16 s for the country's), and SQLite's pool
// is a few connections per CPU — without the bound, a handful of
// observers reloading their statistics would hold every connection, and
// every other request would wait for one. The others wait here instead,
// for as long as their context lets them.
var computing = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// scopeOf checks the viewer's right and returns the requests the report is
// about, as predicates: no id list, the database evaluates them.
//
// Conditions on related rows are uncorrelated subqueries
// (`origin_structure_id IN (SELECT id FROM structures WHERE …)`, `id IN
// (SELECT request_id FROM dispatches WHERE …)`) rather than ent's
// correlated EXISTS: the planner can then start from the small side
// through the indexes (a referent's structure, a unit) instead of testing
// every request of the region, e.g. 2 ms instead of 0.8 s for a referent's
// 5 000 requests among 60 000 on SQLite.
//
// key names the scope canonically (the viewer's reach and the filters), so
// that two viewers with the same reach share a cached report and two with
// different reaches never do.
func scopeOf(ctx context.Context, f Filter) (scope []predicate.AdmissionRequest, key string, err error) {
	v := viewer.FromContext(ctx)
	var k strings.Builder
	if authz.CanAdministerAnywhere(v, authz.ViewStatistics) {
		k.WriteString("region")
	} else {
		own := authz.AdministeredStructures(v, authz.ViewStatistics)
		if len(own) == 0 {
			return nil, "", apperr.New(apperr.Forbidden, "statistics are for the observatory and structure referents")
		}
		ids := make([]string, len(own))
		for i, id := range own {
			ids[i] = id.String()
		}
		slices.Sort(ids)
		k.WriteString("structures " + strings.Join(slices.Compact(ids), ","))
		scope = append(scope, admissionrequest.Or(
			admissionrequest.OriginStructureIDIn(own...),
			dispatchedWith(func(s *sql.Selector) {
				s.Where(sql.In(s.C(dispatch.FieldUnitID), subquery(s, unit.Table, unit.FieldID, unit.StructureIDIn(own...))))
			}),
		))
	}
	if f.From != nil {
		scope = append(scope, admissionrequest.CreatedAtGTE(*f.From))
	}
	if f.To != nil {
		scope = append(scope, admissionrequest.CreatedAtLT(f.To.AddDate(0, 0, 1)))
	}
	if f.Department != nil {
		scope = append(scope, originWith(structure.Department(*f.Department)))
	}
	if f.OriginKind != nil {
		scope = append(scope, originWith(structure.KindEQ(*f.OriginKind)))
	}
	if f.UnitID != nil {
		scope = append(scope, dispatchedWith(dispatch.UnitID(*f.UnitID)))
	}
	day := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(&k, "|from %s|to %s|department %s|unit %s|origin %s", day(f.From), day(f.To),
		deref(f.Department), deref(f.UnitID), deref(f.OriginKind))
	return scope, k.String(), nil
}

// deref writes an optional filter value, quoted; "-" when absent (an empty
// département is a filter that matches nothing, not no filter).
func deref[T any](p *T) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%q", fmt.Sprint(*p))
}

// originWith: the origin structure matches ps.
func originWith(ps ...predicate.Structure) predicate.AdmissionRequest {
	return func(s *sql.Selector) {
		s.Where(sql.In(s.C(admissionrequest.FieldOriginStructureID), subquery(s, structure.Table, structure.FieldID, ps...)))
	}
}

// dispatchedWith: one of the request's dispatches matches ps.
func dispatchedWith(ps ...predicate.Dispatch) predicate.AdmissionRequest {
	return func(s *sql.Selector) {
		s.Where(sql.In(s.C(admissionrequest.FieldID), subquery(s, dispatch.Table, dispatch.FieldRequestID, ps...)))
	}
}

// subquery is `SELECT column FROM table WHERE ps`, in the dialect of s.
func subquery[P ~func(*sql.Selector)](s *sql.Selector, table, column string, ps ...P) *sql.Selector {
	b := sql.Dialect(s.Dialect())
	t := b.Table(table)
	sub := b.Select(t.C(column)).From(t)
	for _, p := range ps {
		p(sub)
	}
	return sub
}

func ratio(a, b int) *float64 {
	x := float64(a) / float64(b)
	return &x
}

// counts sorts buckets by decreasing count, then key.
func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}
