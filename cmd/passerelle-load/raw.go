package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// rawWorkflow is S3 by hand: the same ten write transactions as one
// workflow iteration (create, three section saves, validation, sending to
// three units, three answers, confirmation), as hand-written SQL over
// database/sql, each with its checks, its conditional updates and its
// events (on PostgreSQL also the event-order advisory lock and the NOTIFY
// the product takes). No HTTP, no GraphQL, no ORM: the limit of the writes.
type rawWorkflow struct {
	db *sql.DB
	pg bool
	t  *target
}

const lockKey = 7_362_512_001 // any constant: the raw path's own event-order lock

func (r *rawWorkflow) q(s string) string { return rebind(r.pg, s) }

// tx runs fn in a transaction (SQLite: BEGIN IMMEDIATE through the DSN).
func (r *rawWorkflow) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

type rawEvent struct {
	typ, from, to, reason string
	dispatch, unit        *uuid.UUID
	section               *string
}

// events inserts a transaction's events last, as the product does.
func (r *rawWorkflow) events(ctx context.Context, tx *sql.Tx, req, actor uuid.UUID, now time.Time, evs ...rawEvent) error {
	if r.pg {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
			return err
		}
	}
	vals := make([]string, len(evs))
	args := make([]any, 0, 10*len(evs))
	for i, e := range evs {
		vals[i] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args = append(args, e.typ, now, req, e.dispatch, e.unit, actor, e.from, e.to, e.reason, e.section)
	}
	var top int64
	err := tx.QueryRowContext(ctx, r.q(`INSERT INTO events (type, occurred_at, request_id, dispatch_id, unit_id, actor_id,
		from_status, to_status, reason, section) VALUES `+strings.Join(vals, ", ")+` RETURNING id`), args...).Scan(&top)
	if err != nil {
		return err
	}
	if r.pg {
		_, err = tx.ExecContext(ctx, "SELECT pg_notify('passerelle_events', $1)", fmt.Sprint(top))
	}
	return err
}

// loadRequest reads what the checks need, with the version for the
// conditional update.
func (r *rawWorkflow) loadRequest(ctx context.Context, tx *sql.Tx, id, structure uuid.UUID) (status string, version int, err error) {
	var origin uuid.UUID
	err = tx.QueryRowContext(ctx, r.q(`SELECT status, version, origin_structure_id FROM admission_requests WHERE id = ?`), id).
		Scan(&status, &version, &origin)
	if err == nil && origin != structure {
		err = fmt.Errorf("request %s is not of structure %s", id, structure)
	}
	return status, version, err
}

func (r *rawWorkflow) bump(ctx context.Context, tx *sql.Tx, id uuid.UUID, status string, version int, now time.Time, set string, args ...any) error {
	a := append(args, now, id, status, version)
	res, err := tx.ExecContext(ctx, r.q(`UPDATE admission_requests SET version = version + 1`+set+`, updated_at = ?
		WHERE id = ? AND status = ? AND version = ?`), a...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("request %s changed meanwhile", id)
	}
	return nil
}

func (r *rawWorkflow) op() operation {
	return func(ctx context.Context, worker int) (int, error) {
		n := int(iteration.Add(1))
		t := r.t
		w := t.writers[n%len(t.writers)]
		units := threeUnits(t.units, n)
		return 1, r.iteration(ctx, n, w, units)
	}
}

func (r *rawWorkflow) iteration(ctx context.Context, n int, w account, units []uuid.UUID) error {
	reqID, patID := uuid.New(), uuid.New()
	actor := w.userID
	// 1. Create: reference, patient, request, three empty sections, duplicate check, event.
	err := r.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UTC()
		var last int
		if err := tx.QueryRowContext(ctx, r.q(`INSERT INTO reference_counters (id, last) VALUES (?, 1)
			ON CONFLICT (id) DO UPDATE SET last = reference_counters.last + 1 RETURNING last`), now.Year()).Scan(&last); err != nil {
			return err
		}
		birth := time.Date(1930+n%60, time.Month(1+n%12), 1+n%28, 0, 0, 0, 0, time.UTC)
		name := fmt.Sprintf("Brut%d", n)
		if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO patients (id, created_at, updated_at, birth_name, first_name, birth_date, sex)
			VALUES (?, ?, ?, ?, ?, ?, 'FEMALE')`), patID, now, now, name, "Test", birth); err != nil {
			return err
		}
		key := strings.ToLower(name) + "|test|" + birth.Format(time.DateOnly) + "|FEMALE"
		if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO admission_requests (id, created_at, updated_at, reference, status, urgency,
			version, duplicate_key, created_by_id, patient_id, origin_structure_id) VALUES (?, ?, ?, ?, 'DRAFT', 'WITHIN_WEEK', 1, ?, ?, ?, ?)`),
			reqID, now, now, fmt.Sprintf("USP-%d-%06d", now.Year(), last), key, actor, patID, w.structureID); err != nil {
			return err
		}
		for _, table := range []string{"medical_sections", "care_project_sections", "admin_social_sections"} {
			if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO `+table+` (id, created_at, updated_at, state, request_id)
				VALUES (?, ?, ?, 'EMPTY', ?)`), uuid.New(), now, now, reqID); err != nil {
				return err
			}
		}
		var dup bool
		if err := tx.QueryRowContext(ctx, r.q(`SELECT EXISTS (SELECT 1 FROM admission_requests WHERE duplicate_key = ?
			AND id <> ? AND status NOT IN ('ARCHIVED', 'CANCELLED'))`), key, reqID).Scan(&dup); err != nil {
			return err
		}
		return r.events(ctx, tx, reqID, actor, now, rawEvent{typ: "REQUEST_CREATED", to: "DRAFT"})
	})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	// 2-4. Section saves: the patch and the recomputed state in one update.
	// Each patch carries every required field of its section, so the state
	// is known from the patch (a partial patch would add, per required
	// field not in it, "column IS NOT NULL" to a CASE).
	saves := []struct {
		table, section, set string
		args                []any
	}{
		{"medical_sections", "MEDICAL",
			"diagnosis = ?, pps_score = ?, prognosis = ?, patient_informed_of_diagnosis = ?, patient_agrees_to_usp = ?, pallia10 = ?",
			[]any{"Adénocarcinome pancréatique métastatique", 30, "WEEKS", "YES", true, "[true,true,true,false,false,true,false,false,false,false]"}},
		{"care_project_sections", "CARE_PROJECT", "stay_goal = ?, dependence = ?",
			[]any{"SYMPTOM_CONTROL", "Aide totale pour la toilette"}},
		{"admin_social_sections", "ADMIN_SOCIAL", "address = ?, postal_code = ?, city = ?, person_to_notify = ?",
			[]any{"12 rue des Lilas", "75012", "Paris", "Fille"}},
	}
	for _, s := range saves {
		err := r.tx(ctx, func(tx *sql.Tx) error {
			now := time.Now().UTC()
			status, version, err := r.loadRequest(ctx, tx, reqID, w.structureID)
			if err != nil {
				return err
			}
			if err := r.bump(ctx, tx, reqID, status, version, now, ""); err != nil {
				return err
			}
			args := append(append([]any{}, s.args...), now, actor, now, "COMPLETE", reqID)
			res, err := tx.ExecContext(ctx, r.q(`UPDATE `+s.table+` SET `+s.set+`, last_edited_at = ?, last_edited_by_id = ?, updated_at = ?,
				state = ? WHERE request_id = ? AND state <> 'VALIDATED'`), args...)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("section %s not found", s.section)
			}
			section := s.section
			return r.events(ctx, tx, reqID, actor, now, rawEvent{typ: "SECTION_UPDATED", section: &section})
		})
		if err != nil {
			return fmt.Errorf("save %s: %w", s.section, err)
		}
	}
	// 5. Validate.
	err = r.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UTC()
		status, version, err := r.loadRequest(ctx, tx, reqID, w.structureID)
		if err != nil {
			return err
		}
		if err := r.bump(ctx, tx, reqID, status, version, now, ""); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, r.q(`UPDATE medical_sections SET state = 'VALIDATED', validated_at = ?, validated_by_id = ?, updated_at = ?
			WHERE request_id = ? AND state = 'COMPLETE'`), now, actor, now, reqID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("medical section not complete")
		}
		section := "MEDICAL"
		return r.events(ctx, tx, reqID, actor, now, rawEvent{typ: "MEDICAL_VALIDATED", from: "COMPLETE", to: "VALIDATED", section: &section})
	})
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	// 6. Send to three units.
	dispatchOf := map[uuid.UUID]uuid.UUID{}
	err = r.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UTC()
		status, version, err := r.loadRequest(ctx, tx, reqID, w.structureID)
		if err != nil {
			return err
		}
		var med, care, adm string
		if err := tx.QueryRowContext(ctx, r.q(`SELECT m.state, c.state, a.state FROM medical_sections m
			JOIN care_project_sections c ON c.request_id = m.request_id JOIN admin_social_sections a ON a.request_id = m.request_id
			WHERE m.request_id = ?`), reqID).Scan(&med, &care, &adm); err != nil {
			return err
		}
		if med != "VALIDATED" || care != "COMPLETE" || adm != "COMPLETE" {
			return fmt.Errorf("not sendable: %s/%s/%s", med, care, adm)
		}
		uargs := []any{units[0], units[1], units[2]}
		var ok int
		if err := tx.QueryRowContext(ctx, r.q(`SELECT count(*) FROM units WHERE id IN (?, ?, ?) AND kind = 'USP' AND accepting_requests`),
			uargs...).Scan(&ok); err != nil {
			return err
		}
		if ok != 3 {
			return fmt.Errorf("a unit does not accept requests")
		}
		var already bool
		if err := tx.QueryRowContext(ctx, r.q(`SELECT EXISTS (SELECT 1 FROM dispatches WHERE request_id = ? AND unit_id IN (?, ?, ?))`),
			append([]any{reqID}, uargs...)...).Scan(&already); err != nil || already {
			return fmt.Errorf("already sent: %v", err)
		}
		if err := r.bump(ctx, tx, reqID, status, version, now, ", status = 'SENT', sent_at = ?", now); err != nil {
			return err
		}
		vals := make([]string, 3)
		args := make([]any, 0, 15)
		evs := make([]rawEvent, 3)
		for i, u := range units {
			d := uuid.New()
			dispatchOf[u] = d
			vals[i] = "(?, ?, ?, 'PENDING', 'WITHIN_WEEK', ?, false, ?, ?)"
			args = append(args, d, now, now, now, reqID, u)
			evs[i] = rawEvent{typ: "REQUEST_SENT", from: status, to: "PENDING", dispatch: &d, unit: &units[i]}
		}
		if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO dispatches (id, created_at, updated_at, status, urgency, sent_at,
			updated_since_read, request_id, unit_id) VALUES `+strings.Join(vals, ", ")), args...); err != nil {
			return err
		}
		return r.events(ctx, tx, reqID, actor, now, evs...)
	})
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	// 7-9. Three answers, each by the unit's physician.
	tomorrow := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	answers := []struct {
		status          string
		reason, comment any
		proposed        any
		event, evReason string
	}{
		{"ACCEPTED", nil, nil, tomorrow, "DISPATCH_ACCEPTED", ""},
		{"REFUSED", "NO_BED_IN_TIME", "Pas de lit avant 10 jours", nil, "DISPATCH_REFUSED", "NO_BED_IN_TIME"},
		{"ACCEPTED_WITH_RESERVATION", nil, "Sous réserve d'un lit libéré jeudi", tomorrow, "DISPATCH_ACCEPTED", ""},
	}
	for i, u := range units {
		a := answers[i]
		d := dispatchOf[u]
		recv := r.t.receivers[u].userID
		err := r.tx(ctx, func(tx *sql.Tx) error {
			now := time.Now().UTC()
			var status, reqStatus string
			var unit uuid.UUID
			if err := tx.QueryRowContext(ctx, r.q(`SELECT d.status, d.unit_id, r.status FROM dispatches d
				JOIN admission_requests r ON r.id = d.request_id WHERE d.id = ?`), d).Scan(&status, &unit, &reqStatus); err != nil {
				return err
			}
			if unit != u || reqStatus != "SENT" {
				return fmt.Errorf("cannot answer")
			}
			res, err := tx.ExecContext(ctx, r.q(`UPDATE dispatches SET status = ?, answered_at = ?, read_at = COALESCE(read_at, ?),
				refusal_reason = ?, answer_comment = ?, proposed_admission_date = ?, updated_at = ? WHERE id = ? AND status = ?`),
				a.status, now, now, a.reason, a.comment, a.proposed, now, d, status)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("dispatch changed meanwhile")
			}
			return r.events(ctx, tx, reqID, recv, now, rawEvent{typ: a.event, from: status, to: a.status, reason: a.evReason,
				dispatch: &d, unit: &unit})
		})
		if err != nil {
			return fmt.Errorf("answer: %w", err)
		}
	}
	// 10. Confirm the first unit; withdraw the other open dispatches.
	err = r.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UTC()
		chosen := dispatchOf[units[0]]
		status, version, err := r.loadRequest(ctx, tx, reqID, w.structureID)
		if err != nil {
			return err
		}
		var dstatus string
		if err := tx.QueryRowContext(ctx, r.q(`SELECT status FROM dispatches WHERE id = ?`), chosen).Scan(&dstatus); err != nil {
			return err
		}
		if status != "SENT" || (dstatus != "ACCEPTED" && dstatus != "ACCEPTED_WITH_RESERVATION") {
			return fmt.Errorf("cannot confirm")
		}
		if err := r.bump(ctx, tx, reqID, status, version, now, ", status = 'CONFIRMED', confirmed_at = ?", now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.q(`UPDATE dispatches SET status = 'CONFIRMED', confirmed_at = ?, updated_at = ?
			WHERE id = ? AND status = ?`), now, now, chosen, dstatus); err != nil {
			return err
		}
		evs := []rawEvent{{typ: "DISPATCH_CONFIRMED", from: dstatus, to: "CONFIRMED", dispatch: &chosen, unit: &units[0]}}
		rows, err := tx.QueryContext(ctx, r.q(`SELECT id, unit_id, status FROM dispatches WHERE request_id = ? AND id <> ?
			AND status IN ('PENDING', 'READ', 'INFO_REQUESTED', 'ACCEPTED', 'ACCEPTED_WITH_RESERVATION')`), reqID, chosen)
		if err != nil {
			return err
		}
		type other struct {
			id, unit uuid.UUID
			status   string
		}
		var others []other
		for rows.Next() {
			var o other
			if err := rows.Scan(&o.id, &o.unit, &o.status); err != nil {
				rows.Close()
				return err
			}
			others = append(others, o)
		}
		rows.Close()
		for _, o := range others {
			if _, err := tx.ExecContext(ctx, r.q(`UPDATE dispatches SET status = 'WITHDRAWN', withdrawn_at = ?, closed_at = ?, updated_at = ?
				WHERE id = ? AND status = ?`), now, now, now, o.id, o.status); err != nil {
				return err
			}
			id, unit := o.id, o.unit
			evs = append(evs, rawEvent{typ: "DISPATCH_WITHDRAWN", from: o.status, to: "WITHDRAWN", reason: "OTHER_UNIT_CONFIRMED",
				dispatch: &id, unit: &unit})
		}
		return r.events(ctx, tx, reqID, actor, now, evs...)
	})
	if err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	return nil
}
