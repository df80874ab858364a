// Package workflow is the life cycle of admission requests and dispatches:
// the transition tables (data, in this file) and the service that applies
// them in one transaction each, with an event row for every change.
package workflow

import (
	"slices"
	"time"

	"passerelle/authz"
	"passerelle/enums"
)

// Action is a step of the life cycle.
type Action string

// The actions of the life cycle.
const (
	ActEdit           Action = "EDIT"             // save a section
	ActValidate       Action = "VALIDATE_MEDICAL" // validate the medical section
	ActSend           Action = "SEND"             // send (or send to more units)
	ActOpen           Action = "OPEN"             // a receiver opens the dispatch
	ActAskInformation Action = "ASK_INFORMATION"  // a receiver asks a question
	ActReply          Action = "REPLY"            // the requesting side answers (message or update)
	ActMessage        Action = "MESSAGE"          // a message, either side
	ActAccept         Action = "ACCEPT"
	ActAcceptReserved Action = "ACCEPT_WITH_RESERVATION"
	ActRefuse         Action = "REFUSE"
	ActConfirm        Action = "CONFIRM"
	ActWithdraw       Action = "WITHDRAW"        // the requesting side withdraws one unit
	ActWithdrawOthers Action = "WITHDRAW_OTHERS" // system: another unit was confirmed
	ActCancel         Action = "CANCEL"          // the request is cancelled
	ActAdmit          Action = "ADMIT"
	ActNotAdmit       Action = "NOT_ADMIT"
	ActArchive        Action = "ARCHIVE"
)

// RequestTransition is one row of the request table.
type RequestTransition struct {
	From   []enums.RequestStatus
	Action Action
	// To is the new status; empty means unchanged.
	To enums.RequestStatus
	// Needs is the profile action the viewer must hold (empty: system only).
	Needs authz.Action
}

// DispatchTransition is one row of the dispatch table.
type DispatchTransition struct {
	From   []enums.DispatchStatus
	Action Action
	To     enums.DispatchStatus
	Needs  authz.Action
	// RequestIn lists the request statuses in which the action is possible.
	RequestIn []enums.RequestStatus
}

var (
	editable = []enums.RequestStatus{enums.RequestStatusDraft, enums.RequestStatusSent, enums.RequestStatusConfirmed}
	live     = []enums.RequestStatus{enums.RequestStatusSent, enums.RequestStatusConfirmed}
	sentOnly = []enums.RequestStatus{enums.RequestStatusSent}

	// Waiting dispatches have not been answered yet.
	waiting = []enums.DispatchStatus{enums.DispatchStatusPending, enums.DispatchStatusRead, enums.DispatchStatusInfoRequested}
	// Answerable dispatches may get (or revise) an answer until confirmation.
	answerable = append(slices.Clone(waiting), enums.DispatchStatusAccepted,
		enums.DispatchStatusAcceptedWithReservation, enums.DispatchStatusRefused)
	// Open dispatches are still in play for the requesting side.
	open = append(slices.Clone(waiting), enums.DispatchStatusAccepted, enums.DispatchStatusAcceptedWithReservation)
	// Threads stay open while the dispatch is not closed.
	talking = append(slices.Clone(open), enums.DispatchStatusRefused, enums.DispatchStatusConfirmed)
)

// RequestTable is the request life cycle.
var RequestTable = []RequestTransition{
	{From: editable, Action: ActEdit, Needs: ""},
	{From: editable, Action: ActValidate, Needs: authz.ValidateMedical},
	{From: []enums.RequestStatus{enums.RequestStatusDraft, enums.RequestStatusSent}, Action: ActSend,
		To: enums.RequestStatusSent, Needs: authz.SendRequest},
	{From: sentOnly, Action: ActConfirm, To: enums.RequestStatusConfirmed, Needs: authz.ConfirmDispatch},
	{From: []enums.RequestStatus{enums.RequestStatusConfirmed}, Action: ActAdmit, To: enums.RequestStatusAdmitted,
		Needs: authz.RecordAdmission},
	{From: editable, Action: ActCancel, To: enums.RequestStatusCancelled, Needs: authz.CancelRequest},
	{From: []enums.RequestStatus{enums.RequestStatusAdmitted, enums.RequestStatusCancelled}, Action: ActArchive,
		To: enums.RequestStatusArchived},
}

// DispatchTable is the dispatch life cycle.
var DispatchTable = []DispatchTransition{
	{From: []enums.DispatchStatus{enums.DispatchStatusPending}, Action: ActOpen, To: enums.DispatchStatusRead,
		Needs: authz.OpenDispatch, RequestIn: live},
	{From: waiting, Action: ActAskInformation, To: enums.DispatchStatusInfoRequested,
		Needs: authz.AskInformation, RequestIn: sentOnly},
	{From: []enums.DispatchStatus{enums.DispatchStatusInfoRequested}, Action: ActReply, To: enums.DispatchStatusRead,
		RequestIn: live},
	{From: talking, Action: ActMessage, Needs: authz.PostMessage, RequestIn: live},
	{From: answerable, Action: ActAccept, To: enums.DispatchStatusAccepted, Needs: authz.AnswerDispatch,
		RequestIn: sentOnly},
	{From: answerable, Action: ActAcceptReserved, To: enums.DispatchStatusAcceptedWithReservation,
		Needs: authz.AnswerDispatch, RequestIn: sentOnly},
	{From: answerable, Action: ActRefuse, To: enums.DispatchStatusRefused, Needs: authz.AnswerDispatch,
		RequestIn: sentOnly},
	{From: []enums.DispatchStatus{enums.DispatchStatusAccepted, enums.DispatchStatusAcceptedWithReservation},
		Action: ActConfirm, To: enums.DispatchStatusConfirmed, Needs: authz.ConfirmDispatch, RequestIn: sentOnly},
	{From: open, Action: ActWithdraw, To: enums.DispatchStatusWithdrawn, Needs: authz.WithdrawDispatch,
		RequestIn: sentOnly},
	{From: open, Action: ActWithdrawOthers, To: enums.DispatchStatusWithdrawn, RequestIn: sentOnly},
	{From: append(slices.Clone(open), enums.DispatchStatusConfirmed), Action: ActCancel,
		To: enums.DispatchStatusCancelled, RequestIn: editable},
	{From: []enums.DispatchStatus{enums.DispatchStatusConfirmed}, Action: ActAdmit, To: enums.DispatchStatusAdmitted,
		Needs: authz.RecordAdmission, RequestIn: []enums.RequestStatus{enums.RequestStatusConfirmed}},
	{From: []enums.DispatchStatus{enums.DispatchStatusConfirmed}, Action: ActNotAdmit,
		To: enums.DispatchStatusNotAdmitted, Needs: authz.RecordNonAdmission,
		RequestIn: []enums.RequestStatus{enums.RequestStatusConfirmed}},
}

// requestStep finds the request transition for an action from a status.
func requestStep(a Action, from enums.RequestStatus) (RequestTransition, bool) {
	for _, t := range RequestTable {
		if t.Action == a && slices.Contains(t.From, from) {
			return t, true
		}
	}
	return RequestTransition{}, false
}

// dispatchStep finds the dispatch transition for an action from a status,
// given the request's status.
func dispatchStep(a Action, from enums.DispatchStatus, req enums.RequestStatus) (DispatchTransition, bool) {
	for _, t := range DispatchTable {
		if t.Action == a && slices.Contains(t.From, from) && slices.Contains(t.RequestIn, req) {
			return t, true
		}
	}
	return DispatchTransition{}, false
}

// IsOpen reports whether a dispatch is still in play (not answered with a
// refusal, not confirmed, not closed).
func IsOpen(s enums.DispatchStatus) bool { return slices.Contains(open, s) }

// WaitingStatuses are the statuses of a dispatch that waits for its unit's
// answer (rule 9's timers run in them).
func WaitingStatuses() []enums.DispatchStatus { return slices.Clone(waiting) }

// IsWaiting reports whether a dispatch still waits for the unit's answer.
func IsWaiting(s enums.DispatchStatus) bool { return slices.Contains(waiting, s) }

// Timers of rule 9: an unanswered dispatch is late after 24 h, overdue after 48 h.
const (
	LateAfter    = 24 * time.Hour
	OverdueAfter = 48 * time.Hour
)

// WaitingLonger: a dispatch in status s, sent at sentAt, still waits for an
// answer and was sent at least d ago (d: LateAfter or OverdueAfter).
func WaitingLonger(s enums.DispatchStatus, sentAt time.Time, d time.Duration) bool {
	return IsWaiting(s) && time.Since(sentAt) >= d
}
