package datagen

import (
	"context"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/dispatch"
	"passerelle/ent/event"
	"passerelle/enums"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
	"passerelle/workflow"
)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{DatabaseURL: storetest.DatabaseURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

var end = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func tiny(report *Report) Config {
	return Config{Preset: "tiny", Seed: 7, Report: report, Now: func() time.Time { return end.Add(9 * time.Hour) }}
}

// TestInvariants checks the rules the workflow keeps on generated data.
func TestInvariants(t *testing.T) {
	db := openDB(t)
	ctx := viewer.System(context.Background())
	var rep Report
	var calls atomic.Int32
	if err := Generate(context.Background(), db.Client, tiny(&rep), func(done, total int) { calls.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 {
		t.Fatal("no progress reported")
	}
	t.Logf("report: %+v", rep)
	reqs, err := db.Client.AdmissionRequest.Query().WithDispatches().WithMedical().WithCareProject().WithAdminSocial().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 400 {
		t.Fatalf("%d requests, want 400", len(reqs))
	}
	refRE := regexp.MustCompile(`^USP-\d{4}-\d{6}$`)
	refs := map[string]bool{}
	maxRef := map[int]int{}
	archived := 0
	for _, r := range reqs {
		if !refRE.MatchString(r.Reference) || refs[r.Reference] {
			t.Fatalf("reference %q malformed or repeated", r.Reference)
		}
		refs[r.Reference] = true
		var y, n int
		_, _ = fmtSscanf(r.Reference, &y, &n)
		maxRef[y] = max(maxRef[y], n)
		if r.CreatedAt.Before(end.Add(-days*24*time.Hour)) || !r.CreatedAt.Before(end) {
			t.Fatalf("%s created at %s, outside the period", r.Reference, r.CreatedAt)
		}
		confirmed := 0
		open := 0
		for _, d := range r.Edges.Dispatches {
			switch d.Status {
			case enums.DispatchStatusConfirmed, enums.DispatchStatusAdmitted, enums.DispatchStatusNotAdmitted:
				confirmed++
			case enums.DispatchStatusPending, enums.DispatchStatusRead, enums.DispatchStatusInfoRequested,
				enums.DispatchStatusAccepted, enums.DispatchStatusAcceptedWithReservation:
				open++
			}
			if d.SentAt.Before(r.CreatedAt) || (d.ReadAt != nil && d.ReadAt.Before(d.SentAt)) ||
				(d.AnsweredAt != nil && d.ReadAt != nil && d.AnsweredAt.Before(*d.ReadAt)) {
				t.Fatalf("%s: dispatch times out of order: %+v", r.Reference, d)
			}
			if d.Status == enums.DispatchStatusRefused && d.RefusalReason == nil {
				t.Fatalf("%s: refusal without reason", r.Reference)
			}
		}
		if confirmed > 1 {
			t.Fatalf("%s: %d confirmed dispatches", r.Reference, confirmed)
		}
		if (r.CancelledAt != nil) != (r.Status == enums.RequestStatusCancelled ||
			(r.Status == enums.RequestStatusArchived && r.AdmittedAt == nil)) {
			t.Fatalf("%s: %s with cancellation time %v: a cancelled request went on", r.Reference, r.Status, r.CancelledAt)
		}
		for _, d := range r.Edges.Dispatches {
			if d.Status == enums.DispatchStatusNotAdmitted && d.NotAdmittedReason != nil &&
				*d.NotAdmittedReason == enums.NotAdmittedReasonPatientDeceased && r.CancellationReason != nil &&
				*r.CancellationReason != enums.CancellationReasonPatientDeceased {
				t.Fatalf("%s: the patient died before coming, the request was cancelled as %s", r.Reference, *r.CancellationReason)
			}
		}
		med, care, adm := r.Edges.Medical, r.Edges.CareProject, r.Edges.AdminSocial
		switch r.Status {
		case enums.RequestStatusDraft:
			if len(r.Edges.Dispatches) > 0 {
				t.Fatalf("%s: draft with dispatches", r.Reference)
			}
		case enums.RequestStatusSent:
			if len(r.Edges.Dispatches) == 0 || confirmed > 0 || r.SentAt == nil {
				t.Fatalf("%s: SENT with %d dispatches, %d confirmed", r.Reference, len(r.Edges.Dispatches), confirmed)
			}
		case enums.RequestStatusConfirmed:
			if confirmed != 1 || open != 0 || r.ConfirmedAt == nil {
				t.Fatalf("%s: CONFIRMED with %d confirmed and %d open dispatches", r.Reference, confirmed, open)
			}
		case enums.RequestStatusAdmitted:
			if confirmed != 1 || r.AdmittedAt == nil || open != 0 {
				t.Fatalf("%s: ADMITTED without an admitted dispatch", r.Reference)
			}
		case enums.RequestStatusCancelled:
			if open != 0 || r.CancellationReason == nil || r.CancelledAt == nil {
				t.Fatalf("%s: CANCELLED with open dispatches or no reason", r.Reference)
			}
		case enums.RequestStatusArchived:
			archived++
			closedAt := final(r)
			if open != 0 || closedAt.IsZero() || r.ArchivedAt == nil || r.ArchivedAt.Before(closedAt.Add(workflow.DefaultArchiveAfter)) {
				t.Fatalf("%s: ARCHIVED at %v, admitted %v, cancelled %v, %d open dispatches", r.Reference,
					r.ArchivedAt, r.AdmittedAt, r.CancelledAt, open)
			}
		default:
			if (r.Status == enums.RequestStatusAdmitted || r.Status == enums.RequestStatusCancelled) &&
				final(r).Add(workflow.DefaultArchiveAfter+time.Hour).Before(end) {
				t.Fatalf("%s: %s since %s, not archived by %s", r.Reference, r.Status, final(r), end)
			}
		}
		if r.SentAt != nil && (med.State != enums.SectionStateValidated || care.State != enums.SectionStateComplete ||
			adm.State != enums.SectionStateComplete) {
			t.Fatalf("%s: sent with sections %s/%s/%s", r.Reference, med.State, care.State, adm.State)
		}
		evs, err := db.Client.Event.Query().Where(event.RequestID(r.ID)).Order(ent.Asc(event.FieldID)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 || evs[0].Type != enums.EventTypeRequestCreated {
			t.Fatalf("%s: timeline does not start with REQUEST_CREATED", r.Reference)
		}
		if last := evs[len(evs)-1]; (r.Status == enums.RequestStatusArchived) !=
			(last.Type == enums.EventTypeRequestArchived && last.ActorID == nil && last.ToStatus == string(enums.RequestStatusArchived)) {
			t.Fatalf("%s (%s): the timeline ends with %s by %v", r.Reference, r.Status, last.Type, last.ActorID)
		}
		for k := 1; k < len(evs); k++ {
			if evs[k].OccurredAt.Before(evs[k-1].OccurredAt) {
				t.Fatalf("%s: events out of order", r.Reference)
			}
		}
		sent := 0
		for _, e := range evs {
			if e.Type == enums.EventTypeRequestSent {
				sent++
			}
		}
		if sent != len(r.Edges.Dispatches) {
			t.Fatalf("%s: %d REQUEST_SENT events for %d dispatches", r.Reference, sent, len(r.Edges.Dispatches))
		}
	}
	if archived == 0 {
		t.Fatal("no request archived in a year of traffic")
	}
	for y, n := range maxRef {
		c, err := db.Client.ReferenceCounter.Get(ctx, y)
		if err != nil || c.Last < n {
			t.Fatalf("counter of %d: %v %v, want ≥ %d", y, c, err, n)
		}
	}
	// Dispatches only to accepting USP units.
	bad, err := db.Client.Dispatch.Query().Where(dispatch.HasUnitWith(unitNotAccepting())).Count(ctx)
	if err != nil || bad > 0 {
		t.Fatalf("%d dispatches to non-accepting units (%v)", bad, err)
	}
}

// TestRestart: a second run adds nothing; a run stopped half-way resumes
// with the same rows (same ids, same references).
func TestRestart(t *testing.T) {
	ctx := viewer.System(context.Background())
	full := openDB(t)
	if err := Generate(context.Background(), full.Client, tiny(nil), nil); err != nil {
		t.Fatal(err)
	}
	var rep Report
	cfg := tiny(&rep)
	cfg.Now = func() time.Time { return end.Add(50 * 24 * time.Hour) } // a later day: the period must not move
	if err := Generate(context.Background(), full.Client, cfg, nil); err != nil {
		t.Fatal(err)
	}
	if rep.Skipped != 400 {
		t.Fatalf("second run skipped %d, want 400", rep.Skipped)
	}
	n, _ := full.Client.AdmissionRequest.Query().Count(ctx)
	if n != 400 {
		t.Fatalf("%d requests after a second run", n)
	}

	// Interrupted run: cancel after the first batch.
	part := openDB(t)
	cctx, cancel := context.WithCancel(context.Background())
	err := Generate(cctx, part.Client, tiny(nil), func(done, total int) {
		if done >= 150 {
			cancel()
		}
	})
	if err == nil {
		t.Log("the run finished before the cancellation took effect")
	}
	cfg = tiny(nil)
	cfg.Now = func() time.Time { return end.Add(3 * 24 * time.Hour) }
	if err := Generate(context.Background(), part.Client, cfg, nil); err != nil {
		t.Fatal(err)
	}
	a, err := full.Client.AdmissionRequest.Query().Order(ent.Asc(admissionrequest.FieldReference)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := part.Client.AdmissionRequest.Query().Order(ent.Asc(admissionrequest.FieldReference)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d requests vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Reference != b[i].Reference || a[i].Status != b[i].Status ||
			!a[i].CreatedAt.Equal(b[i].CreatedAt) {
			t.Fatalf("row %d differs: %v / %v", i, a[i], b[i])
		}
	}
	ea, _ := full.Client.Event.Query().Count(ctx)
	eb, _ := part.Client.Event.Query().Count(ctx)
	if ea != eb {
		t.Fatalf("events: %d vs %d", ea, eb)
	}
}

// final is when an admitted or cancelled request reached that status.
func final(r *ent.AdmissionRequest) time.Time {
	if r.CancelledAt != nil {
		return *r.CancelledAt
	}
	if r.AdmittedAt != nil {
		return *r.AdmittedAt
	}
	return time.Time{}
}

// TestCancellationAfterNonAdmission: a request closed after its patient did
// not come is cancelled for the same reason (the tiny data set of
// TestInvariants holds too few non-admissions to be sure to meet each).
func TestCancellationAfterNonAdmission(t *testing.T) {
	for _, r := range enums.NotAdmittedReasonValues {
		c := cancellationFor(r)
		if !c.IsValid() || string(r) != string(c) {
			t.Errorf("not admitted for %s, cancelled for %s", r, c)
		}
	}
}
