// Package notify sends the e-mail notifications: from the committed events
// (the events table is the outbox) and rule 9's reminders it prepares one
// e-mail per person concerned who opted in on a habilitation that covers the
// request or the unit, writes it to the notifications table, and delivers
// those to the mail server with retries. The texts are French data
// (messages.fr.json) and carry no patient data.
package notify

import (
	"passerelle/enums"
	"passerelle/labels"
)

// audience is who is told.
type audience int

const (
	// toUnit: the receivers of the dispatch's unit.
	toUnit audience = 1 << iota
	// toRequesters: the requesting side of the request (its structure, or
	// its unit for unit-scoped habilitations).
	toRequesters
	// toOtherSide: the side the event's actor is not on (a message).
	toOtherSide
)

// Rules says which events call for an e-mail and to whom: a unit learns of
// what is sent to it and of what ends its part (rules 3, 4 and 6); the
// requesting side learns of every answer it waits for. The actor is never
// told of their own step. Events without a dispatch call for none.
var Rules = map[enums.EventType]audience{
	enums.EventTypeRequestSent:          toUnit,
	enums.EventTypeRequestUpdated:       toUnit,
	enums.EventTypeDispatchWithdrawn:    toUnit,
	enums.EventTypeRequestCancelled:     toUnit,
	enums.EventTypeDispatchConfirmed:    toUnit,
	enums.EventTypeInformationRequested: toRequesters,
	enums.EventTypeDispatchAccepted:     toRequesters,
	enums.EventTypeDispatchRefused:      toRequesters,
	enums.EventTypePatientAdmitted:      toRequesters,
	enums.EventTypePatientNotAdmitted:   toRequesters,
	enums.EventTypeMessagePosted:        toOtherSide,
}

// The reminders of rule 9: an unanswered dispatch is late after 24 hours
// (its unit is reminded), overdue after 48 hours (both sides are).
const (
	kindLate    = "LATE"
	kindOverdue = "OVERDUE"
)

var reminderAudience = map[string]audience{kindLate: toUnit, kindOverdue: toUnit | toRequesters}

// kindExpiring: a habilitation that ends within directory.ExpiryNotice is
// e-mailed, once, to the referents of its structure (rule 9: "flagged to
// referents") — the holders of a profile that manages the structure's
// accounts there; regional support, which may do so anywhere, is not
// e-mailed about every structure.
const kindExpiring = "HABILITATION_EXPIRING"

// reasonLabel is the French wording of an event's reason.
func reasonLabel(t enums.EventType, reason string) string {
	if reason == "" {
		return ""
	}
	var enum string
	switch t {
	case enums.EventTypeDispatchRefused:
		enum = "RefusalReason"
	case enums.EventTypeRequestCancelled:
		enum = "CancellationReason"
	case enums.EventTypePatientNotAdmitted:
		enum = "NotAdmittedReason"
	case enums.EventTypeDispatchWithdrawn:
		return withdrawalReasons[reason]
	default:
		return ""
	}
	l, _ := labels.Label(enum, reason)
	return l
}
