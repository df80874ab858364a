package workflow

import (
	"slices"
	"testing"

	"passerelle/authz"
	"passerelle/enums"
)

// allActions is every action of the life cycle: a new one must be added
// here (and given an expectation) before the tables may use it.
var allActions = []Action{
	ActEdit, ActValidate, ActSend, ActOpen, ActAskInformation, ActReply, ActMessage,
	ActAccept, ActAcceptReserved, ActRefuse, ActConfirm, ActWithdraw, ActWithdrawOthers,
	ActCancel, ActAdmit, ActNotAdmit, ActArchive,
}

// outcome is what a step should do: nothing (ok false), or move to `to`
// ("" = unchanged) for a viewer holding `needs` ("" = the system only, or
// a right checked elsewhere).
type outcome struct {
	ok    bool
	to    string
	needs authz.Action
}

func allowed(to string, needs authz.Action) outcome { return outcome{ok: true, to: to, needs: needs} }

var refused = outcome{}

// Request statuses, written out from the life cycle of the domain brief.
const (
	rDraft     = enums.RequestStatusDraft
	rSent      = enums.RequestStatusSent
	rConfirmed = enums.RequestStatusConfirmed
	rAdmitted  = enums.RequestStatusAdmitted
	rCancelled = enums.RequestStatusCancelled
	rArchived  = enums.RequestStatusArchived
)

// wantRequest is the request life cycle of the domain brief, independent of
// machine.go: DRAFT → SENT (more units may be added while SENT) → CONFIRMED
// → ADMITTED; CANCELLED from any non-final status; ADMITTED and CANCELLED
// become ARCHIVED (system); nothing else leaves a final status.
func wantRequest(a Action, from enums.RequestStatus) outcome {
	nonFinal := from == rDraft || from == rSent || from == rConfirmed
	switch a {
	case ActEdit:
		// Sections stay editable until the request is closed; the right to
		// write is per section (checked by the service).
		if nonFinal {
			return allowed("", "")
		}
	case ActValidate:
		if nonFinal {
			return allowed("", authz.ValidateMedical)
		}
	case ActSend:
		if from == rDraft || from == rSent {
			return allowed(string(rSent), authz.SendRequest)
		}
	case ActConfirm:
		if from == rSent {
			return allowed(string(rConfirmed), authz.ConfirmDispatch)
		}
	case ActAdmit:
		if from == rConfirmed {
			return allowed(string(rAdmitted), authz.RecordAdmission)
		}
	case ActCancel:
		if nonFinal {
			return allowed(string(rCancelled), authz.CancelRequest)
		}
	case ActArchive:
		if from == rAdmitted || from == rCancelled {
			return allowed(string(rArchived), "")
		}
	}
	// Dispatch-level actions (open, ask, answer, withdraw…) never move the
	// request by themselves.
	return refused
}

func TestRequestTable(t *testing.T) {
	for _, from := range enums.RequestStatusValues {
		for _, a := range allActions {
			want := wantRequest(a, from)
			got, ok := requestStep(a, from)
			gotOutcome := refused
			if ok {
				gotOutcome = allowed(string(got.To), got.Needs)
			}
			if gotOutcome != want {
				t.Errorf("request %s --%s-->: got %+v, want %+v", from, a, gotOutcome, want)
			}
			// At most one row may answer a (status, action) pair.
			n := 0
			for _, row := range RequestTable {
				if row.Action == a && slices.Contains(row.From, from) {
					n++
				}
			}
			if n > 1 {
				t.Errorf("request %s --%s-->: %d rows match", from, a, n)
			}
		}
	}
	// Every row uses a known action and known statuses.
	for _, row := range RequestTable {
		if !slices.Contains(allActions, row.Action) {
			t.Errorf("request table row with unknown action %q", row.Action)
		}
		for _, s := range append(slices.Clone(row.From), row.To) {
			if s != "" && !s.IsValid() {
				t.Errorf("request table row %s: unknown status %q", row.Action, s)
			}
		}
	}
	// Nothing leaves a final status but ARCHIVE.
	for _, from := range []enums.RequestStatus{rAdmitted, rCancelled, rArchived} {
		for _, a := range allActions {
			if _, ok := requestStep(a, from); ok && a != ActArchive {
				t.Errorf("%s leaves the final status %s", a, from)
			}
		}
	}
}

// Dispatch statuses.
const (
	dPending     = enums.DispatchStatusPending
	dRead        = enums.DispatchStatusRead
	dInfo        = enums.DispatchStatusInfoRequested
	dAccepted    = enums.DispatchStatusAccepted
	dReserved    = enums.DispatchStatusAcceptedWithReservation
	dRefused     = enums.DispatchStatusRefused
	dConfirmed   = enums.DispatchStatusConfirmed
	dWithdrawn   = enums.DispatchStatusWithdrawn
	dCancelled   = enums.DispatchStatusCancelled
	dAdmitted    = enums.DispatchStatusAdmitted
	dNotAdmitted = enums.DispatchStatusNotAdmitted
)

// wantDispatch is the dispatch life cycle of the domain brief (status table
// and rules 2–5, 8), independent of machine.go.
func wantDispatch(a Action, from enums.DispatchStatus, req enums.RequestStatus) outcome {
	in := func(ss ...enums.DispatchStatus) bool { return slices.Contains(ss, from) }
	waitingFor := in(dPending, dRead, dInfo)              // no answer yet
	answeredYes := in(dAccepted, dReserved)               // accord, not yet chosen
	stillOpen := waitingFor || answeredYes                // in play for the requesting side
	revisable := stillOpen || from == dRefused            // rule 2: answers revisable
	sent := req == rSent                                  // before confirmation
	inFlight := req == rSent || req == rConfirmed         // sent and not closed
	nonFinal := req == rDraft || req == rSent || inFlight // cancellable request
	threadOpen := stillOpen || in(dRefused, dConfirmed)   // rule 8: a thread per dispatch, until closed
	switch a {
	case ActOpen:
		// First opening: PENDING → READ (later openings are no transition).
		if from == dPending && inFlight {
			return allowed(string(dRead), authz.OpenDispatch)
		}
	case ActAskInformation:
		// The unit asks before answering.
		if waitingFor && sent {
			return allowed(string(dInfo), authz.AskInformation)
		}
	case ActReply:
		// The requesting side answers (message or update): back to READ.
		if from == dInfo && inFlight {
			return allowed(string(dRead), "")
		}
	case ActMessage:
		if threadOpen && inFlight {
			return allowed("", authz.PostMessage)
		}
	case ActAccept:
		if revisable && sent {
			return allowed(string(dAccepted), authz.AnswerDispatch)
		}
	case ActAcceptReserved:
		if revisable && sent {
			return allowed(string(dReserved), authz.AnswerDispatch)
		}
	case ActRefuse:
		if revisable && sent {
			return allowed(string(dRefused), authz.AnswerDispatch)
		}
	case ActConfirm:
		// Only an accepted dispatch of a request not yet confirmed (rule 3).
		if answeredYes && sent {
			return allowed(string(dConfirmed), authz.ConfirmDispatch)
		}
	case ActWithdraw:
		if stillOpen && sent {
			return allowed(string(dWithdrawn), authz.WithdrawDispatch)
		}
	case ActWithdrawOthers:
		// System, while confirming another dispatch of a SENT request.
		if stillOpen && sent {
			return allowed(string(dWithdrawn), "")
		}
	case ActCancel:
		// System, for every open (or the confirmed) dispatch of a request
		// being cancelled (rule 4); the request status is the one before.
		if (stillOpen || from == dConfirmed) && nonFinal {
			return allowed(string(dCancelled), "")
		}
	case ActAdmit:
		// Rule 5: on the confirmed dispatch.
		if from == dConfirmed && req == rConfirmed {
			return allowed(string(dAdmitted), authz.RecordAdmission)
		}
	case ActNotAdmit:
		if from == dConfirmed && req == rConfirmed {
			return allowed(string(dNotAdmitted), authz.RecordNonAdmission)
		}
	}
	// EDIT, VALIDATE, SEND, ARCHIVE are request-level only; WITHDRAWN,
	// CANCELLED, ADMITTED and NOT_ADMITTED are final.
	return refused
}

func TestDispatchTable(t *testing.T) {
	checked := 0
	for _, req := range enums.RequestStatusValues {
		for _, from := range enums.DispatchStatusValues {
			for _, a := range allActions {
				checked++
				want := wantDispatch(a, from, req)
				got, ok := dispatchStep(a, from, req)
				gotOutcome := refused
				if ok {
					gotOutcome = allowed(string(got.To), got.Needs)
				}
				if gotOutcome != want {
					t.Errorf("dispatch %s (request %s) --%s-->: got %+v, want %+v", from, req, a, gotOutcome, want)
				}
				n := 0
				for _, row := range DispatchTable {
					if row.Action == a && slices.Contains(row.From, from) && slices.Contains(row.RequestIn, req) {
						n++
					}
				}
				if n > 1 {
					t.Errorf("dispatch %s (request %s) --%s-->: %d rows match", from, req, a, n)
				}
			}
		}
	}
	if want := len(enums.RequestStatusValues) * len(enums.DispatchStatusValues) * len(allActions); checked != want {
		t.Fatalf("walked %d cells, want %d", checked, want)
	}
	for _, row := range DispatchTable {
		if !slices.Contains(allActions, row.Action) {
			t.Errorf("dispatch table row with unknown action %q", row.Action)
		}
		for _, s := range append(slices.Clone(row.From), row.To) {
			if s != "" && !s.IsValid() {
				t.Errorf("dispatch table row %s: unknown status %q", row.Action, s)
			}
		}
		for _, s := range row.RequestIn {
			if !s.IsValid() {
				t.Errorf("dispatch table row %s: unknown request status %q", row.Action, s)
			}
		}
	}
	// Final dispatch statuses are never left.
	for _, from := range []enums.DispatchStatus{dWithdrawn, dCancelled, dAdmitted, dNotAdmitted} {
		for _, req := range enums.RequestStatusValues {
			for _, a := range allActions {
				if _, ok := dispatchStep(a, from, req); ok {
					t.Errorf("%s leaves the final dispatch status %s (request %s)", a, from, req)
				}
			}
		}
	}
}

// TestDispatchPredicates checks the helpers the service and the dashboards use.
func TestDispatchPredicates(t *testing.T) {
	for _, s := range enums.DispatchStatusValues {
		wantWaiting := s == dPending || s == dRead || s == dInfo
		wantOpen := wantWaiting || s == dAccepted || s == dReserved
		if IsWaiting(s) != wantWaiting {
			t.Errorf("IsWaiting(%s) = %v, want %v", s, IsWaiting(s), wantWaiting)
		}
		if IsOpen(s) != wantOpen {
			t.Errorf("IsOpen(%s) = %v, want %v", s, IsOpen(s), wantOpen)
		}
	}
}
