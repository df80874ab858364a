package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"

	"passerelle/authz"
)

// Statistics JSON, in the shape of the contract's Statistics answer.
type (
	reasonCount struct {
		Reason string `json:"reason"`
		Count  int    `json:"count"`
	}
	kindCount struct {
		Kind  string `json:"kind"`
		Count int    `json:"count"`
	}
	statsAnswer struct {
		Data struct {
			S struct {
				Requests                  int           `json:"requests"`
				Sent                      int           `json:"sent"`
				Admitted                  int           `json:"admitted"`
				AdmissionRate             *float64      `json:"admissionRate"`
				MedianSendToReadMinutes   *float64      `json:"medianSendToReadMinutes"`
				MedianSendToAnswerMinutes *float64      `json:"medianSendToAnswerMinutes"`
				RefusalsByReason          []reasonCount `json:"refusalsByReason"`
				RequestsByOriginKind      []kindCount   `json:"requestsByOriginKind"`
			} `json:"admissionStatistics"`
		} `json:"data"`
	}
)

// statistics is S4 by hand for the region (the observatory): the same
// indicators as aggregates computed by the database, nothing loaded row by
// row into the process.
func (b *baseline) statistics(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := b.authenticate(ctx, r)
	if err != nil {
		fail(w, err)
		return
	}
	if !authz.CanAdministerAnywhere(v, authz.ViewStatistics) {
		http.Error(w, `{"errors":[{"message":"forbidden"}]}`, http.StatusForbidden)
		return
	}
	var out statsAnswer
	s := &out.Data.S
	if err := b.db.QueryRowContext(ctx, `SELECT count(*), count(sent_at), count(admitted_at) FROM admission_requests`).
		Scan(&s.Requests, &s.Sent, &s.Admitted); err != nil {
		fail(w, err)
		return
	}
	if s.Sent > 0 {
		x := float64(s.Admitted) / float64(s.Sent)
		s.AdmissionRate = &x
	}
	if s.MedianSendToReadMinutes, err = b.median(ctx, "read_at"); err != nil {
		fail(w, err)
		return
	}
	if s.MedianSendToAnswerMinutes, err = b.median(ctx, "answered_at"); err != nil {
		fail(w, err)
		return
	}
	rows, err := b.db.QueryContext(ctx, `SELECT refusal_reason, count(*) FROM dispatches
		WHERE status = 'REFUSED' AND refusal_reason IS NOT NULL GROUP BY refusal_reason ORDER BY 2 DESC, 1`)
	if err != nil {
		fail(w, err)
		return
	}
	for rows.Next() {
		var c reasonCount
		if err := rows.Scan(&c.Reason, &c.Count); err != nil {
			rows.Close()
			fail(w, err)
			return
		}
		s.RefusalsByReason = append(s.RefusalsByReason, c)
	}
	rows.Close()
	rows, err = b.db.QueryContext(ctx, `SELECT s.kind, count(*) FROM admission_requests r
		JOIN structures s ON s.id = r.origin_structure_id GROUP BY s.kind ORDER BY 2 DESC, 1`)
	if err != nil {
		fail(w, err)
		return
	}
	for rows.Next() {
		var c kindCount
		if err := rows.Scan(&c.Kind, &c.Count); err != nil {
			rows.Close()
			fail(w, err)
			return
		}
		s.RequestsByOriginKind = append(s.RequestsByOriginKind, c)
	}
	rows.Close()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&out)
}

// median of (column − sent_at) in minutes over the dispatches that have it.
func (b *baseline) median(ctx context.Context, column string) (*float64, error) {
	var m sql.NullFloat64
	var err error
	if b.pg {
		err = b.db.QueryRowContext(ctx, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM `+column+` - sent_at) / 60)
			FROM dispatches WHERE `+column+` IS NOT NULL`).Scan(&m)
	} else {
		// The lower median (the Go code averages the two middle values of an
		// even count: the difference is immaterial here).
		err = b.db.QueryRowContext(ctx, `SELECT (julianday(`+column+`) - julianday(sent_at)) * 1440 AS m FROM dispatches
			WHERE `+column+` IS NOT NULL ORDER BY m LIMIT 1 OFFSET (SELECT count(*) / 2 FROM dispatches WHERE `+column+` IS NOT NULL)`).Scan(&m)
	}
	if err == sql.ErrNoRows || (err == nil && !m.Valid) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &m.Float64, nil
}
