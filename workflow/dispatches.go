package workflow

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/dispatch"
	"passerelle/enums"
	"passerelle/viewer"
)

// AccessDispatchOpened and AccessMedicalRead are the kinds of access-log rows.
const (
	AccessDispatchOpened = "DISPATCH_OPENED"
	AccessMedicalRead    = "MEDICAL_SECTION_READ"
)

// Open is a receiver opening a dispatch: the first opening moves it to READ
// and keeps the time; every opening is logged and clears "updated since read".
func (s *Service) Open(ctx context.Context, dispatchID uuid.UUID) (*ent.Dispatch, error) {
	return s.onDispatch(ctx, dispatchID, func(o *op) error {
		d, req, _, recv, err := o.loadDispatch(dispatchID)
		if err != nil {
			return err
		}
		if !recv[authz.OpenDispatch] {
			return forbidden("open dispatches")
		}
		if d.Status == enums.DispatchStatusPending {
			if _, err := o.stepDispatch(d, req.Status, ActOpen, func(u *ent.DispatchUpdate) {
				u.SetReadAt(o.now).SetUpdatedSinceRead(false)
			}); err != nil {
				return err
			}
			if err := o.record(eventSpec{typ: enums.EventTypeDispatchRead, request: req.ID, dispatch: d,
				from: string(enums.DispatchStatusPending), to: string(d.Status)}); err != nil {
				return err
			}
		} else {
			upd := o.tx.Dispatch.Update().Where(dispatch.ID(d.ID)).SetUpdatedSinceRead(false).SetUpdatedAt(o.now)
			if err := upd.Exec(o.ctx); err != nil {
				return err
			}
			if err := mirror(d, upd.Mutation()); err != nil {
				return err
			}
		}
		return o.tx.AccessLog.Create().SetUserID(o.v.UserID).SetRequestID(req.ID).SetDispatchID(d.ID).
			SetKind(AccessDispatchOpened).SetAccessedAt(o.now).Exec(o.ctx)
	})
}

func requireText(field, value string, max int) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return "", apperr.BadInput(field, "%s must not be empty", field)
	}
	if len([]rune(value)) > max {
		return "", apperr.BadInput(field, "%s is longer than %d characters", field, max)
	}
	return value, nil
}

// AskInformation is a receiver's question: the dispatch waits for the
// requesting side (INFO_REQUESTED); the question also opens the thread.
func (s *Service) AskInformation(ctx context.Context, dispatchID uuid.UUID, question string) (*ent.Dispatch, error) {
	question, err := requireText("question", question, 4000)
	if err != nil {
		return nil, err
	}
	return s.onDispatch(ctx, dispatchID, func(o *op) error {
		d, req, _, recv, err := o.loadDispatch(dispatchID)
		if err != nil {
			return err
		}
		if !recv[authz.AskInformation] {
			return forbidden("ask for information")
		}
		from := d.Status
		if _, err := o.stepDispatch(d, req.Status, ActAskInformation, func(u *ent.DispatchUpdate) {
			u.SetInformationQuestion(question)
			if d.ReadAt == nil {
				u.SetReadAt(o.now)
			}
		}); err != nil {
			return err
		}
		if err := o.tx.Message.Create().SetDispatchID(d.ID).SetAuthorID(o.v.UserID).SetFromReceiver(true).
			SetBody(question).SetCreatedAt(o.now).Exec(o.ctx); err != nil {
			return err
		}
		return o.record(eventSpec{typ: enums.EventTypeInformationRequested, request: req.ID, dispatch: d,
			from: string(from), to: string(d.Status)})
	})
}

// PostMessage adds to a dispatch's thread; a requesting-side message on an
// INFO_REQUESTED dispatch answers it (back to READ).
func (s *Service) PostMessage(ctx context.Context, dispatchID uuid.UUID, body string) (*ent.Dispatch, error) {
	body, err := requireText("body", body, 8000)
	if err != nil {
		return nil, err
	}
	return s.onDispatch(ctx, dispatchID, func(o *op) error {
		d, req, reqSide, recv, err := o.loadDispatch(dispatchID)
		if err != nil {
			return err
		}
		// A viewer on both sides (rare) posts as the receiving unit.
		fromReceiver := recv[authz.PostMessage]
		if !fromReceiver && !reqSide[authz.PostMessage] {
			return forbidden("post messages")
		}
		if _, ok := dispatchStep(ActMessage, d.Status, req.Status); !ok {
			return apperr.ConflictStatus(d.Status, "the thread of a %s dispatch is closed", d.Status)
		}
		from := d.Status
		if !fromReceiver && d.Status == enums.DispatchStatusInfoRequested {
			if _, err := o.stepDispatch(d, req.Status, ActReply, nil); err != nil {
				return err
			}
		}
		if err := o.tx.Message.Create().SetDispatchID(d.ID).SetAuthorID(o.v.UserID).SetFromReceiver(fromReceiver).
			SetBody(body).SetCreatedAt(o.now).Exec(o.ctx); err != nil {
			return err
		}
		return o.record(eventSpec{typ: enums.EventTypeMessagePosted, request: req.ID, dispatch: d,
			from: string(from), to: string(d.Status)})
	})
}

// AnswerInput is a unit's decision.
type AnswerInput struct {
	Decision              enums.AnswerDecision
	RefusalReason         *enums.RefusalReason
	Comment               *string
	ProposedAdmissionDate *time.Time
}

var decisionAction = map[enums.AnswerDecision]Action{
	enums.AnswerDecisionAccept:                ActAccept,
	enums.AnswerDecisionAcceptWithReservation: ActAcceptReserved,
	enums.AnswerDecisionRefuse:                ActRefuse,
}

// Answer records (or revises, until confirmation) a unit's decision.
func (s *Service) Answer(ctx context.Context, dispatchID uuid.UUID, in AnswerInput) (*ent.Dispatch, error) {
	act, ok := decisionAction[in.Decision]
	if !ok {
		return nil, apperr.BadInput("input.decision", "unknown decision")
	}
	if in.Comment != nil {
		c := strings.TrimSpace(*in.Comment)
		in.Comment = &c
	}
	switch {
	case act == ActRefuse && in.RefusalReason == nil:
		return nil, apperr.BadInput("input.refusalReason", "a refusal needs a reason")
	case act == ActRefuse && *in.RefusalReason == enums.RefusalReasonOther && (in.Comment == nil || *in.Comment == ""):
		return nil, apperr.BadInput("input.comment", "a comment is required with the reason OTHER")
	case act != ActRefuse && in.RefusalReason != nil:
		return nil, apperr.BadInput("input.refusalReason", "a refusal reason goes with a refusal only")
	case act == ActAcceptReserved && (in.Comment == nil || *in.Comment == ""):
		return nil, apperr.BadInput("input.comment", "state the reservation in the comment")
	case act == ActRefuse && in.ProposedAdmissionDate != nil:
		return nil, apperr.BadInput("input.proposedAdmissionDate", "a refusal proposes no admission date")
	}
	return s.onDispatch(ctx, dispatchID, func(o *op) error {
		d, req, _, recv, err := o.loadDispatch(dispatchID)
		if err != nil {
			return err
		}
		if !recv[authz.AnswerDispatch] {
			return forbidden("answer requests")
		}
		if in.ProposedAdmissionDate != nil && in.ProposedAdmissionDate.Before(today(req.CreatedAt)) {
			return apperr.BadInput("input.proposedAdmissionDate", "the admission date is before the request")
		}
		from := d.Status
		if _, err := o.stepDispatch(d, req.Status, act, func(u *ent.DispatchUpdate) {
			u.SetAnsweredAt(o.now).SetNillableAnswerComment(in.Comment)
			if in.Comment == nil {
				u.ClearAnswerComment()
			}
			if d.ReadAt == nil {
				u.SetReadAt(o.now)
			}
			if in.RefusalReason != nil {
				u.SetRefusalReason(*in.RefusalReason).ClearProposedAdmissionDate()
			} else {
				u.ClearRefusalReason().SetNillableProposedAdmissionDate(in.ProposedAdmissionDate)
			}
		}); err != nil {
			return err
		}
		typ, reason := enums.EventTypeDispatchAccepted, ""
		if act == ActRefuse {
			typ, reason = enums.EventTypeDispatchRefused, string(*in.RefusalReason)
		}
		return o.record(eventSpec{typ: typ, request: req.ID, dispatch: d, from: string(from), to: string(d.Status),
			reason: reason})
	})
}

// Confirm chooses a unit (rule 3): the request becomes CONFIRMED and every
// other open dispatch WITHDRAWN. Two concurrent confirms cannot both win: the
// request moves SENT → CONFIRMED with a conditional update, and the database
// holds at most one confirmed dispatch per request.
func (s *Service) Confirm(ctx context.Context, dispatchID uuid.UUID) (*ent.Dispatch, error) {
	return s.onDispatch(ctx, dispatchID, func(o *op) error {
		d, req, reqSide, _, err := o.loadDispatch(dispatchID)
		if err != nil {
			return err
		}
		if !reqSide[authz.ConfirmDispatch] {
			return forbidden("confirm a unit")
		}
		if _, ok := dispatchStep(ActConfirm, d.Status, req.Status); !ok {
			return apperr.ConflictStatus(d.Status, "only an accepted dispatch of a sent request can be confirmed (dispatch %s, request %s)",
				d.Status, req.Status).With("requestStatus", string(req.Status))
		}
		reqFrom := req.Status
		if _, err := o.stepRequest(req, ActConfirm, func(u *ent.AdmissionRequestUpdate) { u.SetConfirmedAt(o.now) }); err != nil {
			return err
		}
		from := d.Status
		if _, err := o.stepDispatch(d, reqFrom, ActConfirm, func(u *ent.DispatchUpdate) { u.SetConfirmedAt(o.now) }); err != nil {
			return err
		}
		if err := o.record(eventSpec{typ: enums.EventTypeDispatchConfirmed, request: req.ID, dispatch: d,
			from: string(from), to: string(d.Status)}); err != nil {
			return err
		}
		others, err := o.tx.Dispatch.Query().Where(dispatch.RequestID(req.ID), dispatch.IDNEQ(d.ID),
			dispatch.StatusIn(open...)).All(viewer.System(o.ctx))
		if err != nil {
			return err
		}
		for _, other := range others {
			prev := other.Status
			if _, err := o.stepDispatch(other, reqFrom, ActWithdrawOthers, func(u *ent.DispatchUpdate) {
				u.SetWithdrawnAt(o.now).SetClosedAt(o.now)
			}); err != nil {
				return err
			}
			if err := o.record(eventSpec{typ: enums.EventTypeDispatchWithdrawn, request: req.ID, dispatch: other,
				from: string(prev), to: string(other.Status), reason: "OTHER_UNIT_CONFIRMED"}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Withdraw is the requesting side withdrawing one unit.
func (s *Service) Withdraw(ctx context.Context, dispatchID uuid.UUID) (*ent.Dispatch, error) {
	return s.onDispatch(ctx, dispatchID, func(o *op) error {
		d, req, reqSide, _, err := o.loadDispatch(dispatchID)
		if err != nil {
			return err
		}
		if !reqSide[authz.WithdrawDispatch] {
			return forbidden("withdraw a unit")
		}
		from := d.Status
		if _, err := o.stepDispatch(d, req.Status, ActWithdraw, func(u *ent.DispatchUpdate) {
			u.SetWithdrawnAt(o.now).SetClosedAt(o.now)
		}); err != nil {
			return err
		}
		bump := o.tx.AdmissionRequest.Update().Where(admissionrequest.ID(req.ID)).AddVersion(1).SetUpdatedAt(o.now)
		if err := bump.Exec(o.ctx); err != nil {
			return err
		}
		if err := mirror(req, bump.Mutation()); err != nil {
			return err
		}
		return o.record(eventSpec{typ: enums.EventTypeDispatchWithdrawn, request: req.ID, dispatch: d,
			from: string(from), to: string(d.Status), reason: "WITHDRAWN_BY_REQUESTER"})
	})
}

// RecordAdmission records the patient's arrival on the confirmed dispatch
// (rule 5): the dispatch and the request become ADMITTED.
func (s *Service) RecordAdmission(ctx context.Context, dispatchID uuid.UUID, admittedAt time.Time) (*ent.Dispatch, error) {
	return s.onDispatch(ctx, dispatchID, func(o *op) error {
		d, req, reqSide, recv, err := o.loadDispatch(dispatchID)
		if err != nil {
			return err
		}
		if !recv[authz.RecordAdmission] && !reqSide[authz.RecordAdmission] {
			return forbidden("record an admission")
		}
		// Microseconds, as the operation's clock: what PostgreSQL keeps (a
		// client may send nanoseconds; the answer must be what is stored).
		admittedAt = admittedAt.UTC().Truncate(time.Microsecond)
		if admittedAt.After(o.now.Add(5 * time.Minute)) {
			return apperr.BadInput("admittedAt", "the admission time is in the future")
		}
		if admittedAt.Before(d.SentAt.Truncate(time.Minute)) { // clients send whole seconds or minutes
			return apperr.BadInput("admittedAt", "the admission time is before the request was sent")
		}
		from := d.Status
		if _, err := o.stepDispatch(d, req.Status, ActAdmit, func(u *ent.DispatchUpdate) {
			u.SetAdmittedAt(admittedAt).SetClosedAt(o.now)
		}); err != nil {
			return err
		}
		if _, err := o.stepRequest(req, ActAdmit, func(u *ent.AdmissionRequestUpdate) { u.SetAdmittedAt(admittedAt) }); err != nil {
			return err
		}
		return o.record(eventSpec{typ: enums.EventTypePatientAdmitted, request: req.ID, dispatch: d,
			from: string(from), to: string(d.Status)})
	})
}

// RecordNonAdmission records that a confirmed patient did not come. The
// request stays CONFIRMED until the requesting side cancels it.
func (s *Service) RecordNonAdmission(ctx context.Context, dispatchID uuid.UUID, reason enums.NotAdmittedReason, comment *string) (*ent.Dispatch, error) {
	if !reason.IsValid() {
		return nil, apperr.BadInput("reason", "unknown reason")
	}
	if reason == enums.NotAdmittedReasonOther && (comment == nil || strings.TrimSpace(*comment) == "") {
		return nil, apperr.BadInput("comment", "a comment is required with the reason OTHER")
	}
	return s.onDispatch(ctx, dispatchID, func(o *op) error {
		d, req, _, recv, err := o.loadDispatch(dispatchID)
		if err != nil {
			return err
		}
		if !recv[authz.RecordNonAdmission] {
			return forbidden("record a non-admission")
		}
		from := d.Status
		if _, err := o.stepDispatch(d, req.Status, ActNotAdmit, func(u *ent.DispatchUpdate) {
			u.SetNotAdmittedReason(reason).SetNillableAnswerComment(comment).SetClosedAt(o.now)
		}); err != nil {
			return err
		}
		return o.record(eventSpec{typ: enums.EventTypePatientNotAdmitted, request: req.ID, dispatch: d,
			from: string(from), to: string(d.Status), reason: string(reason)})
	})
}
