// Package stats computes the activity indicators of the domain brief from
// requests and dispatches: aggregates only, never patient-level data.
package stats

import (
	"context"
	"slices"
	"sort"
	"time"

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
	UnansweredShare                                *float64
	RefusalsByReason, CancellationsByReason        []Count
	ByOriginKind, ByDepartment, ByMonth            []Count
}

// Compute checks the viewer's right (OBSERVER: the region; referents: their
// structure, as origin or as receiver) and computes the report.
func Compute(ctx context.Context, client *ent.Client, f Filter) (*Report, error) {
	v := viewer.FromContext(ctx)
	var scope []predicate.AdmissionRequest
	if !authz.CanAdministerAnywhere(v, authz.ViewStatistics) {
		own := authz.AdministeredStructures(v, authz.ViewStatistics)
		if len(own) == 0 {
			return nil, apperr.New(apperr.Forbidden, "statistics are for the observatory and structure referents")
		}
		scope = append(scope, admissionrequest.Or(
			admissionrequest.OriginStructureIDIn(own...),
			admissionrequest.HasDispatchesWith(dispatch.HasUnitWith(unit.StructureIDIn(own...))),
		))
	}
	if f.From != nil {
		scope = append(scope, admissionrequest.CreatedAtGTE(*f.From))
	}
	if f.To != nil {
		scope = append(scope, admissionrequest.CreatedAtLT(f.To.AddDate(0, 0, 1)))
	}
	if f.Department != nil {
		scope = append(scope, admissionrequest.HasOriginStructureWith(structure.Department(*f.Department)))
	}
	if f.OriginKind != nil {
		scope = append(scope, admissionrequest.HasOriginStructureWith(structure.KindEQ(*f.OriginKind)))
	}
	if f.UnitID != nil {
		scope = append(scope, admissionrequest.HasDispatchesWith(dispatch.UnitID(*f.UnitID)))
	}
	// Aggregates are computed as the system once the right is checked: a
	// referent's indicators include requests whose rows they may not read.
	sys := viewer.System(ctx)
	reqs, err := client.AdmissionRequest.Query().Where(scope...).WithOriginStructure().
		WithDispatches().All(sys)
	if err != nil {
		return nil, err
	}
	return build(reqs), nil
}

func build(reqs []*ent.AdmissionRequest) *Report {
	r := &Report{Requests: len(reqs)}
	refusals, cancels, kinds, deps, months := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	var toRead, toAnswer, toAdmit []float64
	dispatches, unanswered := 0, 0
	for _, q := range reqs {
		if s := q.Edges.OriginStructure; s != nil {
			kinds[string(s.Kind)]++
			deps[s.Department]++
		}
		months[q.CreatedAt.Format("2006-01")]++
		if q.SentAt != nil {
			r.Sent++
		}
		if q.ConfirmedAt != nil {
			r.Confirmed++
		}
		if q.AdmittedAt != nil {
			r.Admitted++
			if q.SentAt != nil {
				toAdmit = append(toAdmit, q.AdmittedAt.Sub(*q.SentAt).Minutes())
			}
		}
		if q.CancellationReason != nil {
			r.Cancelled++
			cancels[string(*q.CancellationReason)]++
		}
		for _, d := range q.Edges.Dispatches {
			dispatches++
			if d.ReadAt != nil {
				toRead = append(toRead, d.ReadAt.Sub(d.SentAt).Minutes())
			}
			if d.AnsweredAt != nil {
				toAnswer = append(toAnswer, d.AnsweredAt.Sub(d.SentAt).Minutes())
			} else {
				unanswered++
			}
			if d.Status == enums.DispatchStatusRefused && d.RefusalReason != nil {
				refusals[string(*d.RefusalReason)]++
			}
		}
	}
	if r.Sent > 0 {
		r.AdmissionRate = ratio(r.Admitted, r.Sent)
		r.UnitsPerRequest = ratio(dispatches, r.Sent)
	}
	if dispatches > 0 {
		r.UnansweredShare = ratio(unanswered, dispatches)
	}
	r.MedianSendToRead, r.MedianSendToAnswer, r.MedianSendToAdmission = median(toRead), median(toAnswer), median(toAdmit)
	r.RefusalsByReason, r.CancellationsByReason = counts(refusals), counts(cancels)
	r.ByOriginKind, r.ByDepartment, r.ByMonth = counts(kinds), counts(deps), counts(months)
	sort.Slice(r.ByMonth, func(i, j int) bool { return r.ByMonth[i].Key < r.ByMonth[j].Key })
	return r
}

func ratio(a, b int) *float64 {
	x := float64(a) / float64(b)
	return &x
}

func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return &m
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
