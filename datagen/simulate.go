package datagen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/workflow"
)

// The life of one request is planned in full (a valid history from creation
// to its final state), then replayed up to the end of the simulated period:
// any prefix of a valid history is a valid state, so requests still in
// progress at the end (drafts, unanswered dispatches, awaited admissions)
// are as consistent as finished ones. Replaying writes exactly the rows and
// the events the workflow service would have written.

type stepKind int

const (
	stCreate stepKind = iota
	stSave
	stValidate
	stSend
	stRead
	stAsk
	stReply
	stAnswer
	stConfirm
	stAdmit
	stNotAdmit
	stCancel
	stArchive
)

type step struct {
	t       time.Time
	kind    stepKind
	actor   uuid.UUID
	d       int                  // dispatch index (read, ask, reply, answer, confirm, admit, not admit)
	wave    []int                // dispatch indices (send)
	section enums.SectionKind    // save
	final   bool                 // save: completes the section
	status  enums.DispatchStatus // answer
	refusal *enums.RefusalReason
	comment *string
	date    *time.Time // answer: proposed admission date; admit: admission time
	cancel  enums.CancellationReason
	notAdm  enums.NotAdmittedReason
}

// batch holds the rows of consecutive requests, written in one transaction.
type batch struct {
	first, count int
	patients     []*ent.Patient
	requests     []*ent.AdmissionRequest
	medical      []*ent.MedicalSection
	care         []*ent.CareProjectSection
	admin        []*ent.AdminSocialSection
	dispatches   []*ent.Dispatch
	messages     []*ent.Message
	events       []*ent.Event
}

func (b *batch) rows() int {
	return len(b.patients) + len(b.requests) + len(b.medical) + len(b.care) + len(b.admin) +
		len(b.dispatches) + len(b.messages) + len(b.events)
}

// randomID draws a version-4-shaped UUID from r: the same seed and request
// index always give the same ids, which is what makes restarts safe.
func randomID(r *rand.Rand) uuid.UUID {
	var u uuid.UUID
	a, b := r.Uint64(), r.Uint64()
	for i := range 8 {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}

// requestRand is the random source of request i.
func requestRand(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(i)))
}

// requestID is the id of request i without simulating it.
func requestID(seed uint64, i int) uuid.UUID { return randomID(requestRand(seed, i)) }

func lognormal(r *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*r.NormFloat64()))
}

func uniform(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

func exponential(r *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(r.ExpFloat64() * float64(mean))
}

func weighted[T any](r *rand.Rand, items []T, weights []float64) T {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return items[i]
		}
		x -= w
	}
	return items[len(items)-1]
}

var (
	refusalReasons = []enums.RefusalReason{
		enums.RefusalReasonNoBedInTime, enums.RefusalReasonNotUspIndication, enums.RefusalReasonOutOfArea,
		enums.RefusalReasonProjectIncompatible, enums.RefusalReasonPatientNotInformedOrNotConsenting,
		enums.RefusalReasonCareNotFeasible, enums.RefusalReasonIncompleteFile, enums.RefusalReasonAdmittedElsewhere,
		enums.RefusalReasonOther,
	}
	refusalWeights = []float64{38, 16, 10, 8, 7, 6, 6, 4, 5}

	cancelReasons = []enums.CancellationReason{
		enums.CancellationReasonClinicalChange, enums.CancellationReasonReturnHome,
		enums.CancellationReasonOtherOrientation, enums.CancellationReasonPatientRefusal,
		enums.CancellationReasonAdmittedElsewhere, enums.CancellationReasonDuplicateOrError,
		enums.CancellationReasonOther,
	}
	cancelWeights = []float64{25, 18, 20, 10, 15, 5, 7}

	noAcceptReasons = []enums.CancellationReason{
		enums.CancellationReasonOtherOrientation, enums.CancellationReasonReturnHome, enums.CancellationReasonOther,
	}
	noAcceptWeights = []float64{60, 25, 15}

	notAdmittedReasons = []enums.NotAdmittedReason{
		enums.NotAdmittedReasonPatientDeceased, enums.NotAdmittedReasonClinicalChange,
		enums.NotAdmittedReasonPatientRefusal, enums.NotAdmittedReasonAdmittedElsewhere, enums.NotAdmittedReasonOther,
	}
	notAdmittedWeights = []float64{40, 30, 10, 10, 10}
)

func ptr[T any](v T) *T { return &v }

func date(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// planned is one dispatch as planned.
type planned struct {
	unit     int
	sentAt   time.Time
	answerAt time.Time // zero: never answered
	accepted bool
}

// simulate appends the rows of request i to b.
func (g *generator) simulate(i int, b *batch) {
	r := requestRand(g.cfg.Seed, i)
	reqID := randomID(r)
	patID, medID, careID, admID := randomID(r), randomID(r), randomID(r), randomID(r)
	t0 := g.times[i]
	o := g.dir.pickOrigin(r)

	physician := pick(r, o.Physicians)
	others := o.Others
	if len(others) == 0 {
		others = o.Physicians
	}
	creator := physician
	if r.Float64() < 0.55 {
		creator = pick(r, others)
	}
	var originUnit *uuid.UUID
	if len(o.Units) > 0 {
		originUnit = ptr(pick(r, o.Units))
	}
	urgency := weighted(r, []enums.Urgency{enums.UrgencyWithin48h, enums.UrgencyWithinWeek, enums.UrgencyPlanned},
		[]float64{35, 45, 20})
	var desired *time.Time
	if r.Float64() < 0.7 {
		days := map[enums.Urgency]int{enums.UrgencyWithin48h: 2, enums.UrgencyWithinWeek: 5, enums.UrgencyPlanned: 10 + r.IntN(11)}[urgency]
		desired = ptr(date(t0).AddDate(0, 0, days))
	}

	// Patient and section contents.
	pat := g.patient(r, patID, t0)
	med, care, adm := g.sections(r, reqID, medID, careID, admID, o, t0)

	// The plan.
	var plan []step
	at := t0
	plan = append(plan, step{t: t0, kind: stCreate, actor: creator})
	saves := func(kind enums.SectionKind, editor uuid.UUID) time.Time {
		n := 1 + r.IntN(2)
		times := make([]time.Time, n)
		for k := range times {
			times[k] = t0.Add(uniform(r, 2*time.Minute, 3*time.Hour))
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		for k, at := range times {
			plan = append(plan, step{t: at, kind: stSave, actor: editor, section: kind, final: k == n-1})
		}
		return times[n-1]
	}
	medEditor := physician
	if r.Float64() < 0.4 {
		medEditor = pick(r, others)
	}
	lastMed := saves(enums.SectionKindMedical, medEditor)
	lastCare := saves(enums.SectionKindCareProject, pick(r, others))
	lastAdm := saves(enums.SectionKindAdminSocial, pick(r, others))
	validateAt := lastMed.Add(uniform(r, 5*time.Minute, 2*time.Hour))
	plan = append(plan, step{t: validateAt, kind: stValidate, actor: physician})
	at = maxTime(validateAt, maxTime(lastCare, lastAdm)).Add(uniform(r, time.Minute, time.Hour))
	sendAt := at
	requester := func() uuid.UUID {
		if r.Float64() < 0.5 {
			return physician
		}
		return pick(r, others)
	}

	stop := time.Time{} // steps after stop are dropped (abandoned or cancelled draft)
	switch x := r.Float64(); {
	case x < 0.015: // created by mistake or twice: cancelled before sending
		cancelAt := t0.Add(uniform(r, 10*time.Minute, 6*time.Hour))
		plan = append(plan, step{t: cancelAt, kind: stCancel, actor: creator, cancel: enums.CancellationReasonDuplicateOrError})
		stop = cancelAt
	case x < 0.02: // abandoned draft
		stop = t0.Add(uniform(r, 0, 3*time.Hour))
	}
	if !stop.IsZero() {
		plan = slices.DeleteFunc(plan, func(s step) bool { return s.t.After(stop) })
		g.replay(r, i, b, plan, replayCtx{reqID: reqID, patient: pat, med: med, care: care, adm: adm,
			origin: o, originUnit: originUnit, creator: creator, urgency: urgency, desired: desired})
		return
	}

	// Dispatches: 3 to 5 units, a second wave when every answer was a refusal.
	var ds []planned
	answer := func(idx int, from time.Time) {
		d := &ds[idx]
		u := g.dir.usp[d.unit]
		recv := func() uuid.UUID {
			if len(u.Staff) > 0 && r.Float64() < 0.4 {
				return pick(r, u.Staff)
			}
			return pick(r, u.Physicians)
		}
		if r.Float64() < 0.03 { // never opened
			return
		}
		readAt := from.Add(lognormal(r, 150*time.Minute, 1.0))
		plan = append(plan, step{t: readAt, kind: stRead, actor: recv(), d: idx})
		next := readAt
		if r.Float64() < 0.08 {
			askAt := readAt.Add(lognormal(r, 2*time.Hour, 0.8))
			replyAt := askAt.Add(lognormal(r, 4*time.Hour, 0.9))
			plan = append(plan, step{t: askAt, kind: stAsk, actor: recv(), d: idx},
				step{t: replyAt, kind: stReply, actor: requester(), d: idx})
			next = replyAt
		}
		if r.Float64() < 0.04 { // read, never answered
			return
		}
		d.answerAt = next.Add(lognormal(r, 16*time.Hour, 1.1))
		s := step{t: d.answerAt, kind: stAnswer, actor: pick(r, u.Physicians), d: idx}
		switch x := r.Float64(); {
		case x < 0.18:
			s.status = enums.DispatchStatusAccepted
			if r.Float64() < 0.3 {
				s.comment = ptr(pick(r, answerComments[:2]))
			}
		case x < 0.24:
			s.status = enums.DispatchStatusAcceptedWithReservation
			s.comment = ptr(answerComments[2])
		default:
			s.status = enums.DispatchStatusRefused
			s.refusal = ptr(weighted(r, refusalReasons, refusalWeights))
			if *s.refusal == enums.RefusalReasonOther || r.Float64() < 0.3 {
				s.comment = ptr(pick(r, answerComments[3:]))
			}
		}
		if s.status != enums.DispatchStatusRefused {
			d.accepted = true
			s.date = ptr(date(d.answerAt).AddDate(0, 0, r.IntN(4)))
		}
		plan = append(plan, s)
	}
	wave := func(t time.Time, k int) {
		var used []int
		for _, d := range ds {
			used = append(used, d.unit)
		}
		s := step{t: t, kind: stSend, actor: requester()}
		for _, u := range g.dir.pickUnits(r, o, k, used) {
			s.wave = append(s.wave, len(ds))
			ds = append(ds, planned{unit: u, sentAt: t})
		}
		plan = append(plan, s)
		for _, idx := range s.wave {
			answer(idx, t)
		}
	}
	k := weighted(r, []int{3, 4, 5}, []float64{45, 35, 20})
	wave(sendAt, k)

	firstAccept := func() (int, time.Time) {
		best, when := -1, time.Time{}
		for j, d := range ds {
			if d.accepted && (best < 0 || d.answerAt.Before(when)) {
				best, when = j, d.answerAt
			}
		}
		return best, when
	}
	// lastAnswer is the last answer given, and whether every unit answered.
	lastAnswer := func() (time.Time, bool) {
		var last time.Time
		all := true
		for _, d := range ds {
			if d.answerAt.IsZero() {
				all = false
				continue
			}
			last = maxTime(last, d.answerAt)
		}
		return last, all
	}
	if j, _ := firstAccept(); j < 0 && len(ds) < 5 {
		if last, all := lastAnswer(); all && r.Float64() < 0.45 {
			wave(last.Add(uniform(r, time.Hour, 24*time.Hour)), min(5-len(ds), 1+r.IntN(2)))
		}
	}

	// Cancellation: death while waiting, or another reason.
	var cancelAt time.Time
	var cancelReason enums.CancellationReason
	switch x := r.Float64(); {
	case x < 0.09:
		cancelAt, cancelReason = sendAt.Add(exponential(r, 3*24*time.Hour)), enums.CancellationReasonPatientDeceased
	case x < 0.15:
		cancelAt, cancelReason = sendAt.Add(exponential(r, 5*24*time.Hour)), weighted(r, cancelReasons, cancelWeights)
	}
	closeAt := time.Time{} // when the open dispatches close (confirm or cancel)
	j, accAt := firstAccept()
	switch {
	case j >= 0:
		confirmAt := accAt.Add(lognormal(r, 3*time.Hour, 0.8))
		if !cancelAt.IsZero() && cancelAt.Before(confirmAt) {
			closeAt = cancelAt
			plan = append(plan, g.cancelStep(r, cancelAt, requester(), cancelReason))
			break
		}
		closeAt = confirmAt
		plan = append(plan, step{t: confirmAt, kind: stConfirm, actor: requester(), d: j})
		var proposed time.Time
		for _, s := range plan {
			if s.kind == stAnswer && s.d == j {
				proposed = *s.date
			}
		}
		admittedAt := maxTime(confirmAt.Add(2*time.Hour), proposed.Add(13*time.Hour+uniform(r, 0, 4*time.Hour)))
		recordAt := admittedAt.Add(uniform(r, 5*time.Minute, 3*time.Hour))
		u := g.dir.usp[ds[j].unit]
		switch {
		case !cancelAt.IsZero() && cancelAt.Before(admittedAt):
			plan = append(plan, g.cancelStep(r, cancelAt, requester(), cancelReason))
		case r.Float64() < 0.025:
			reason := weighted(r, notAdmittedReasons, notAdmittedWeights)
			s := step{t: recordAt, kind: stNotAdmit, actor: pick(r, u.Physicians), d: j, notAdm: reason}
			if reason == enums.NotAdmittedReasonOther {
				s.comment = ptr("Le patient ne s'est pas présenté")
			}
			plan = append(plan, s)
			if r.Float64() < 0.8 { // the requesting side closes the request, for the same reason
				plan = append(plan, g.cancelStep(r, recordAt.Add(uniform(r, time.Hour, 48*time.Hour)), requester(),
					cancellationFor(reason)))
			}
		default:
			plan = append(plan, step{t: recordAt, kind: stAdmit, actor: pick(r, append(slices.Clone(u.Physicians), u.Staff...)), d: j, date: &admittedAt})
		}
	default: // nobody accepted: the requesting side gives up — most within
		// days of the last answer, a fifth only weeks later (the overdue
		// reminders go on meanwhile); a request nobody accepts is not left
		// open for good (it was, for 60 % of them, until session 11: 19 % of
		// a year's requests stayed SENT)
		last, _ := lastAnswer()
		giveUp := maxTime(last, sendAt.Add(48*time.Hour)).Add(exponential(r, 2*24*time.Hour))
		if r.Float64() < 0.2 {
			giveUp = giveUp.Add(exponential(r, 14*24*time.Hour))
		}
		if !cancelAt.IsZero() && cancelAt.Before(giveUp) {
			closeAt = cancelAt
			plan = append(plan, g.cancelStep(r, cancelAt, requester(), cancelReason))
		} else {
			closeAt = giveUp
			plan = append(plan, g.cancelStep(r, giveUp, requester(), weighted(r, noAcceptReasons, noAcceptWeights)))
		}
	}
	// Nothing happens on a dispatch once it is closed.
	if !closeAt.IsZero() {
		plan = slices.DeleteFunc(plan, func(s step) bool {
			switch s.kind {
			case stRead, stAsk, stReply, stAnswer:
				return !s.t.Before(closeAt)
			}
			return false
		})
	}
	g.replay(r, i, b, plan, replayCtx{reqID: reqID, patient: pat, med: med, care: care, adm: adm,
		origin: o, originUnit: originUnit, creator: creator, urgency: urgency, desired: desired, dispatches: ds})
}

// cancellationFor is the cancellation that follows a non-admission: for the
// same reason (every non-admission reason is a cancellation reason of the
// same name; a patient who died before coming is cancelled as deceased).
func cancellationFor(r enums.NotAdmittedReason) enums.CancellationReason {
	return enums.CancellationReason(r)
}

func (g *generator) cancelStep(r *rand.Rand, t time.Time, actor uuid.UUID, reason enums.CancellationReason) step {
	s := step{t: t, kind: stCancel, actor: actor, cancel: reason}
	if reason == enums.CancellationReasonOther {
		s.comment = ptr("Orientation vers un autre dispositif")
	}
	return s
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

type replayCtx struct {
	reqID      uuid.UUID
	patient    *ent.Patient
	med        *ent.MedicalSection
	care       *ent.CareProjectSection
	adm        *ent.AdminSocialSection
	origin     *origin
	originUnit *uuid.UUID
	creator    uuid.UUID
	urgency    enums.Urgency
	desired    *time.Time
	dispatches []planned
}

// endAtCancellation drops what a sorted plan holds after its first
// cancellation: nothing happens to a cancelled request (the planner may
// have drawn a cancellation, a patient's death say, before a later wave of
// sending, which the workflow would refuse).
func endAtCancellation(plan []step) []step {
	for i, s := range plan {
		if s.kind == stCancel {
			return plan[:i+1]
		}
	}
	return plan
}

// withArchiving appends to a sorted plan that ends in an admission or a
// cancellation the archiving the server does (workflow.ArchiveDue, serve's
// default delay), half an hour into the hourly pass that finds it due: a
// year of traffic holds mostly archived requests, as the product leaves
// them. No random draw, so the other steps' draws are those of before.
func withArchiving(plan []step) []step {
	var final time.Time
	switch last := plan[len(plan)-1]; {
	case last.kind == stAdmit && last.date != nil:
		final = *last.date
	case last.kind == stCancel:
		final = last.t
	default:
		return plan // the history goes on, or stops short of a final status
	}
	at := final.Add(workflow.DefaultArchiveAfter + 30*time.Minute)
	if last := plan[len(plan)-1].t; at.Before(last) {
		at = last.Add(30 * time.Minute) // an admission date earlier than its recording
	}
	return append(plan, step{t: at, kind: stArchive})
}

var openStatuses = []enums.DispatchStatus{enums.DispatchStatusPending, enums.DispatchStatusRead,
	enums.DispatchStatusInfoRequested, enums.DispatchStatusAccepted, enums.DispatchStatusAcceptedWithReservation}

// replay applies the plan's steps up to the end of the period and appends
// the resulting rows and events.
func (g *generator) replay(r *rand.Rand, i int, b *batch, plan []step, c replayCtx) {
	sort.SliceStable(plan, func(a, b int) bool { return plan[a].t.Before(plan[b].t) })
	plan = withArchiving(endAtCancellation(plan))
	end := g.end
	req := &ent.AdmissionRequest{ID: c.reqID, CreatedAt: plan[0].t, UpdatedAt: plan[0].t, Reference: g.refs[i],
		OriginStructureID: c.origin.ID, OriginUnitID: c.originUnit, CreatedByID: c.creator, PatientID: c.patient.ID,
		Status: enums.RequestStatusDraft, Urgency: c.urgency, DesiredAdmissionDate: c.desired, Version: 1,
		DuplicateKey: duplicateKey(c.patient)}
	c.patient.CreatedAt, c.patient.UpdatedAt = req.CreatedAt, req.CreatedAt
	med := &ent.MedicalSection{ID: c.med.ID, RequestID: c.reqID, State: enums.SectionStateEmpty, CreatedAt: req.CreatedAt, UpdatedAt: req.CreatedAt}
	care := &ent.CareProjectSection{ID: c.care.ID, RequestID: c.reqID, State: enums.SectionStateEmpty, CreatedAt: req.CreatedAt, UpdatedAt: req.CreatedAt}
	adm := &ent.AdminSocialSection{ID: c.adm.ID, RequestID: c.reqID, State: enums.SectionStateEmpty, CreatedAt: req.CreatedAt, UpdatedAt: req.CreatedAt}
	ds := make([]*ent.Dispatch, len(c.dispatches))
	var evs []*ent.Event
	emit := func(s step, typ enums.EventType, d *ent.Dispatch, from, to, reason string, section *enums.SectionKind) {
		actor := s.actor
		e := &ent.Event{Type: typ, OccurredAt: s.t, RequestID: c.reqID, ActorID: &actor, FromStatus: from, ToStatus: to,
			Reason: reason, Section: section}
		if d != nil {
			e.DispatchID, e.UnitID = &d.ID, &d.UnitID
		}
		evs = append(evs, e)
	}
	bump := func(t time.Time) { req.Version++; req.UpdatedAt = t }
	touch := func(d *ent.Dispatch, t time.Time, to enums.DispatchStatus) string {
		from := string(d.Status)
		d.Status, d.UpdatedAt = to, t
		return from
	}
	for _, s := range plan {
		if !s.t.Before(end) {
			break
		}
		switch s.kind {
		case stCreate:
			emit(s, enums.EventTypeRequestCreated, nil, "", string(enums.RequestStatusDraft), "", nil)
		case stSave:
			k := s.section
			switch k {
			case enums.SectionKindMedical:
				state := enums.SectionStateInProgress
				if s.final {
					*med = *c.med
					state = enums.SectionStateComplete
				} else {
					med.Diagnosis, med.PpsScore = c.med.Diagnosis, c.med.PpsScore
				}
				med.State, med.LastEditedAt, med.LastEditedByID, med.UpdatedAt = state, ptr(s.t), ptr(s.actor), s.t
				med.CreatedAt = req.CreatedAt
			case enums.SectionKindCareProject:
				state := enums.SectionStateInProgress
				if s.final {
					*care = *c.care
					state = enums.SectionStateComplete
				} else {
					care.Dependence = c.care.Dependence
				}
				care.State, care.LastEditedAt, care.LastEditedByID, care.UpdatedAt = state, ptr(s.t), ptr(s.actor), s.t
				care.CreatedAt = req.CreatedAt
			default:
				state := enums.SectionStateInProgress
				if s.final {
					*adm = *c.adm
					state = enums.SectionStateComplete
				} else {
					adm.Address = c.adm.Address
				}
				adm.State, adm.LastEditedAt, adm.LastEditedByID, adm.UpdatedAt = state, ptr(s.t), ptr(s.actor), s.t
				adm.CreatedAt = req.CreatedAt
			}
			bump(s.t)
			emit(s, enums.EventTypeSectionUpdated, nil, "", "", "", &k)
		case stValidate:
			if med.State != enums.SectionStateComplete {
				continue // cannot happen: validation is planned after the last medical save
			}
			med.State, med.ValidatedAt, med.ValidatedByID, med.UpdatedAt = enums.SectionStateValidated, ptr(s.t), ptr(s.actor), s.t
			bump(s.t)
			k := enums.SectionKindMedical
			emit(s, enums.EventTypeMedicalValidated, nil, string(enums.SectionStateComplete), string(enums.SectionStateValidated), "", &k)
		case stSend:
			from := req.Status
			if req.SentAt == nil {
				req.SentAt = ptr(s.t)
			}
			req.Status = enums.RequestStatusSent
			bump(s.t)
			for _, j := range s.wave {
				d := &ent.Dispatch{ID: randomID(r), CreatedAt: s.t, UpdatedAt: s.t, RequestID: c.reqID,
					UnitID: g.dir.usp[c.dispatches[j].unit].ID, Status: enums.DispatchStatusPending, Urgency: c.urgency, SentAt: s.t}
				ds[j] = d
				emit(s, enums.EventTypeRequestSent, d, string(from), string(enums.DispatchStatusPending), "", nil)
			}
		case stRead:
			d := ds[s.d]
			from := touch(d, s.t, enums.DispatchStatusRead)
			d.ReadAt = ptr(s.t)
			emit(s, enums.EventTypeDispatchRead, d, from, string(d.Status), "", nil)
		case stAsk:
			d := ds[s.d]
			q := pick(r, infoQuestions)
			from := touch(d, s.t, enums.DispatchStatusInfoRequested)
			d.InformationQuestion = &q
			b.messages = append(b.messages, &ent.Message{ID: randomID(r), DispatchID: d.ID, AuthorID: s.actor,
				FromReceiver: true, Body: q, CreatedAt: s.t})
			emit(s, enums.EventTypeInformationRequested, d, from, string(d.Status), "", nil)
		case stReply:
			d := ds[s.d]
			from := touch(d, s.t, enums.DispatchStatusRead)
			b.messages = append(b.messages, &ent.Message{ID: randomID(r), DispatchID: d.ID, AuthorID: s.actor,
				FromReceiver: false, Body: pick(r, replies), CreatedAt: s.t})
			emit(s, enums.EventTypeMessagePosted, d, from, string(d.Status), "", nil)
		case stAnswer:
			d := ds[s.d]
			from := touch(d, s.t, s.status)
			d.AnsweredAt, d.RefusalReason, d.AnswerComment, d.ProposedAdmissionDate = ptr(s.t), s.refusal, s.comment, s.date
			typ, reason := enums.EventTypeDispatchAccepted, ""
			if s.refusal != nil {
				typ, reason = enums.EventTypeDispatchRefused, string(*s.refusal)
			}
			emit(s, typ, d, from, string(d.Status), reason, nil)
		case stConfirm:
			d := ds[s.d]
			req.Status, req.ConfirmedAt = enums.RequestStatusConfirmed, ptr(s.t)
			bump(s.t)
			from := touch(d, s.t, enums.DispatchStatusConfirmed)
			d.ConfirmedAt = ptr(s.t)
			emit(s, enums.EventTypeDispatchConfirmed, d, from, string(d.Status), "", nil)
			for _, o := range ds {
				if o == nil || o == d || !slices.Contains(openStatuses, o.Status) {
					continue
				}
				from := touch(o, s.t, enums.DispatchStatusWithdrawn)
				o.WithdrawnAt, o.ClosedAt = ptr(s.t), ptr(s.t)
				emit(s, enums.EventTypeDispatchWithdrawn, o, from, string(o.Status), "OTHER_UNIT_CONFIRMED", nil)
			}
		case stAdmit:
			d := ds[s.d]
			from := touch(d, s.t, enums.DispatchStatusAdmitted)
			d.AdmittedAt, d.ClosedAt = s.date, ptr(s.t)
			req.Status, req.AdmittedAt = enums.RequestStatusAdmitted, s.date
			bump(s.t)
			emit(s, enums.EventTypePatientAdmitted, d, from, string(d.Status), "", nil)
		case stNotAdmit:
			d := ds[s.d]
			from := touch(d, s.t, enums.DispatchStatusNotAdmitted)
			d.NotAdmittedReason, d.ClosedAt = &s.notAdm, ptr(s.t)
			if s.comment != nil {
				d.AnswerComment = s.comment
			}
			emit(s, enums.EventTypePatientNotAdmitted, d, from, string(d.Status), string(s.notAdm), nil)
		case stCancel:
			from := req.Status
			req.Status, req.CancelledAt, req.CancellationReason, req.CancellationComment =
				enums.RequestStatusCancelled, ptr(s.t), &s.cancel, s.comment
			bump(s.t)
			n := 0
			for _, d := range ds {
				if d == nil || (!slices.Contains(openStatuses, d.Status) && d.Status != enums.DispatchStatusConfirmed) {
					continue
				}
				prev := touch(d, s.t, enums.DispatchStatusCancelled)
				d.ClosedAt = ptr(s.t)
				emit(s, enums.EventTypeRequestCancelled, d, prev, string(d.Status), string(s.cancel), nil)
				n++
			}
			if n == 0 {
				emit(s, enums.EventTypeRequestCancelled, nil, string(from), string(req.Status), string(s.cancel), nil)
			}
		case stArchive:
			from := req.Status
			req.Status, req.ArchivedAt = enums.RequestStatusArchived, ptr(s.t)
			bump(s.t)
			evs = append(evs, &ent.Event{Type: enums.EventTypeRequestArchived, OccurredAt: s.t, RequestID: c.reqID,
				FromStatus: string(from), ToStatus: string(req.Status)}) // the system's step: no actor
		}
	}
	b.patients = append(b.patients, c.patient)
	b.requests = append(b.requests, req)
	b.medical = append(b.medical, med)
	b.care = append(b.care, care)
	b.admin = append(b.admin, adm)
	for _, d := range ds {
		if d != nil {
			b.dispatches = append(b.dispatches, d)
		}
	}
	b.events = append(b.events, evs...)
	g.tally(req, ds)
}

func duplicateKey(p *ent.Patient) *string {
	bn, fn := identity.FoldName(p.BirthName), identity.FoldName(p.FirstName)
	if bn == "" || fn == "" {
		return nil
	}
	k := strings.Join([]string{bn, fn, p.BirthDate.Format(time.DateOnly), string(p.Sex)}, "|")
	return &k
}

// patient draws an identity: mostly elderly, a few with an INS.
func (g *generator) patient(r *rand.Rand, id uuid.UUID, t0 time.Time) *ent.Patient {
	sex := enums.SexFemale
	first := pick(r, femaleFirstNames)
	if r.Float64() < 0.48 {
		sex, first = enums.SexMale, pick(r, maleFirstNames)
	}
	age := int(math.Round(78 + 11*r.NormFloat64()))
	age = min(max(age, 28), 103)
	birth := date(t0).AddDate(-age, 0, -r.IntN(365))
	p := &ent.Patient{ID: id, BirthName: pick(r, lastNames), FirstName: first, BirthDate: birth, Sex: sex}
	if sex == enums.SexFemale && r.Float64() < 0.3 {
		p.UsedName = ptr(pick(r, lastNames))
	}
	if r.Float64() < 0.6 {
		dep := fmt.Sprintf("%02d", 1+r.IntN(95))
		if dep == "20" {
			dep = "2A"
		}
		s := "1"
		if sex == enums.SexFemale {
			s = "2"
		}
		first13 := fmt.Sprintf("%s%02d%02d%s%03d%03d", s, birth.Year()%100, int(birth.Month()), dep, 1+r.IntN(999), 1+r.IntN(999))
		if key, err := identity.INSKey(first13); err == nil {
			p.Ins = ptr(fmt.Sprintf("%s%02d", first13, key))
		}
		p.BirthPlace = ptr(pick(r, genericCities))
	}
	return p
}

// sections draws the full contents of the three sections (what they hold
// once complete).
func (g *generator) sections(r *rand.Rand, reqID, medID, careID, admID uuid.UUID, o *origin, t0 time.Time) (*ent.MedicalSection, *ent.CareProjectSection, *ent.AdminSocialSection) {
	symptom := func() *enums.SymptomControl {
		return ptr(weighted(r, enums.SymptomControlValues, []float64{30, 30, 25, 15}))
	}
	pallia := make([]bool, 10)
	pallia[0] = true
	for k := 1; k < 10; k++ {
		pallia[k] = r.Float64() < 0.4
	}
	med := &ent.MedicalSection{ID: medID, RequestID: reqID,
		Diagnosis: ptr(pick(r, diagnoses)), History: ptr(pick(r, histories)), CurrentTreatments: ptr(pick(r, treatments)),
		Allergies: ptr("Aucune allergie connue"), PpsScore: ptr(10 * weighted(r, []int{1, 2, 3, 4, 5, 6}, []float64{8, 20, 30, 25, 12, 5})),
		Pallia10: pallia, Prognosis: ptr(weighted(r, enums.PrognosisValues, []float64{20, 60, 20})),
		Pain: symptom(), Dyspnea: symptom(), Nausea: symptom(), Occlusion: symptom(), ConfusionAgitation: symptom(),
		Anxiety: symptom(), HaemorrhagicRisk: ptr(r.Float64() < 0.1),
		Sedation:                   ptr(weighted(r, enums.SedationValues, []float64{70, 20, 5, 5})),
		PatientInformedOfDiagnosis: ptr(weighted(r, enums.InformationLevelValues, []float64{75, 20, 5})),
		PatientInformedOfPrognosis: ptr(weighted(r, enums.InformationLevelValues, []float64{50, 35, 15})),
		PatientInformedOfUsp:       ptr(r.Float64() < 0.9), PatientAgreesToUsp: ptr(r.Float64() < 0.92),
		PatientWishes: ptr("Être soulagé, rester proche de sa famille"), AdvanceDirectives: ptr(r.Float64() < 0.3),
		TrustedPersonDesignated: ptr(r.Float64() < 0.6), IsolationRequired: ptr(r.Float64() < 0.05),
		PiccLine: ptr(r.Float64() < 0.25), PcaPump: ptr(r.Float64() < 0.15), Stoma: ptr(r.Float64() < 0.08),
		Oxygen: ptr(r.Float64() < 0.3), Tracheostomy: ptr(r.Float64() < 0.02)}
	dep := func() *enums.DependenceLevel {
		return ptr(weighted(r, enums.DependenceLevelValues, []float64{15, 45, 40}))
	}
	care := &ent.CareProjectSection{ID: careID, RequestID: reqID, Dependence: ptr(pick(r, careTexts)),
		DependenceWashing: dep(), DependenceMobility: dep(), DependenceContinence: dep(), DependenceEating: dep(),
		NutritionRoute: ptr(weighted(r, []string{"Orale", "Entérale (sonde)", "Parentérale"}, []float64{80, 12, 8})),
		EmspInvolved:   ptr(r.Float64() < 0.45), HadInvolved: ptr(o.Kind == enums.StructureKindHad || r.Float64() < 0.1),
		StayGoal:           ptr(weighted(r, enums.StayGoalValues, []float64{45, 35, 10, 10})),
		ReturnHomePossible: ptr(r.Float64() < 0.2), LifeProject: ptr("Projet discuté avec le patient et ses proches")}
	city := pick(r, genericCities)
	adm := &ent.AdminSocialSection{ID: admID, RequestID: reqID,
		Address:    ptr(fmt.Sprintf("%d %s", 1+r.IntN(150), pick(r, streetNames))),
		PostalCode: ptr(postalCode(r, o.Dept)), City: ptr(city), HealthCover: ptr("Assurance maladie + complémentaire"),
		LivingSituation: ptr(weighted(r, []string{"Vit seul(e)", "Vit en couple", "En EHPAD", "Chez un proche"}, []float64{35, 40, 15, 10})),
		PersonToNotify:  ptr(weighted(r, []string{"Fille", "Fils", "Conjoint(e)", "Nièce", "Ami(e)"}, []float64{30, 25, 30, 8, 7}))}
	_ = t0
	return med, care, adm
}
