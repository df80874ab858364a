package graph

import (
	"context"

	"passerelle/enums"
	"passerelle/graph/model"
	"passerelle/stats"
)

func (r *Resolver) statistics(ctx context.Context, f *model.StatisticsFilter) (*model.AdmissionStatistics, error) {
	var in stats.Filter
	if f != nil {
		in = stats.Filter{From: val(f.From), To: val(f.To), Department: val(f.Department),
			UnitID: val(f.UnitID), OriginKind: val(f.OriginKind)}
	}
	var rep *stats.Report
	var err error
	if r.Stats != nil {
		rep, err = r.Stats.Compute(ctx, in)
	} else {
		rep, err = stats.Compute(ctx, r.Client, in)
	}
	if err != nil {
		return nil, err
	}
	out := &model.AdmissionStatistics{
		Requests: rep.Requests, Sent: rep.Sent, Confirmed: rep.Confirmed, Admitted: rep.Admitted,
		Cancelled: rep.Cancelled, AdmissionRate: rep.AdmissionRate, UnitsPerRequest: rep.UnitsPerRequest,
		MedianSendToReadMinutes: rep.MedianSendToRead, MedianSendToAnswerMinutes: rep.MedianSendToAnswer,
		MedianSendToAdmissionMinutes: rep.MedianSendToAdmission, MedianDesiredToAdmissionDays: rep.MedianDesiredToAdmissionDays,
		DeathsBeforeAdmission: rep.DeathsBeforeAdmission,
		UnansweredShare:       rep.UnansweredShare,
		ComputedAt:            rep.ComputedAt,
	}
	for _, c := range rep.RefusalsByReason {
		out.RefusalsByReason = append(out.RefusalsByReason, &model.RefusalCount{Reason: enums.RefusalReason(c.Key), Count: c.Count})
	}
	for _, c := range rep.CancellationsByReason {
		out.CancellationsByReason = append(out.CancellationsByReason, &model.CancellationCount{Reason: enums.CancellationReason(c.Key), Count: c.Count})
	}
	for _, c := range rep.NonAdmissionsByReason {
		out.NonAdmissionsByReason = append(out.NonAdmissionsByReason, &model.NotAdmittedCount{Reason: enums.NotAdmittedReason(c.Key), Count: c.Count})
	}
	for _, c := range rep.ByOriginKind {
		out.RequestsByOriginKind = append(out.RequestsByOriginKind, &model.OriginKindCount{Kind: enums.StructureKind(c.Key), Count: c.Count})
	}
	for _, c := range rep.ByDepartment {
		out.RequestsByDepartment = append(out.RequestsByDepartment, &model.DepartmentCount{Department: c.Key, Count: c.Count})
	}
	for _, c := range rep.ByMonth {
		out.RequestsByMonth = append(out.RequestsByMonth, &model.MonthCount{Month: c.Key, Count: c.Count})
	}
	return out, nil
}
