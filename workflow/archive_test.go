package workflow

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/event"
	"passerelle/enums"
	"passerelle/viewer"
)

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu     sync.Mutex
	events []*ent.Event
}

func (r *recorder) Publish(evs []*ent.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
}

// admitted takes a new request to ADMITTED through the workflow.
func (f *fixture) admitted(birthName string) uuid.UUID {
	f.t.Helper()
	perine := f.unitID("USP Sainte-Périne")
	id := f.ready(birthName)
	sent, err := f.svc.Send(f.as(prescriber), id, []uuid.UUID{perine})
	f.must(sent, err)
	d := f.dispatchTo(sent, perine)
	f.must(f.svc.Answer(f.as(perineDoctor), d, AnswerInput{Decision: enums.AnswerDecisionAccept}))
	f.must(f.svc.Confirm(f.as(prescriber), d))
	f.must(f.svc.RecordAdmission(f.as(perineDoctor), d, time.Now().UTC()))
	return id
}

// cancelled takes a new request to CANCELLED.
func (f *fixture) cancelled(birthName string) uuid.UUID {
	f.t.Helper()
	id := f.draft(birthName)
	f.must(f.svc.Cancel(f.as(prescriber), id, enums.CancellationReasonPatientDeceased, nil))
	return id
}

// backdate moves a request's admission and cancellation times back by d.
func (f *fixture) backdate(id uuid.UUID, d time.Duration) {
	f.t.Helper()
	req := f.db.Client.AdmissionRequest.GetX(f.sys, id)
	u := f.db.Client.AdmissionRequest.UpdateOneID(id)
	if req.AdmittedAt != nil {
		u.SetAdmittedAt(req.AdmittedAt.Add(-d))
	}
	if req.CancelledAt != nil {
		u.SetCancelledAt(req.CancelledAt.Add(-d))
	}
	u.ExecX(viewer.AllowWrites(f.sys))
}

func (f *fixture) request(id uuid.UUID) *ent.AdmissionRequest {
	f.t.Helper()
	return f.db.Client.AdmissionRequest.GetX(f.sys, id)
}

func (f *fixture) archivedEvents(id uuid.UUID) []*ent.Event {
	f.t.Helper()
	return f.db.Client.Event.Query().
		Where(event.RequestID(id), event.TypeEQ(enums.EventTypeRequestArchived)).AllX(f.sys)
}

func TestArchiveDue(t *testing.T) {
	f := newFixture(t)
	pub := &recorder{}
	f.svc = NewService(f.db.Client, pub, Config{CheckResults: true})
	t.Cleanup(f.svc.Close)

	oldAdmitted, oldCancelled := f.admitted("Ancienne"), f.cancelled("Annulée")
	recentCancelled, sent := f.cancelled("Récente"), f.ready("Envoyée")
	f.must(f.svc.Send(f.as(prescriber), sent, []uuid.UUID{f.unitID("USP Sainte-Périne")}))
	f.backdate(oldAdmitted, 31*24*time.Hour)
	f.backdate(oldCancelled, 31*24*time.Hour)
	f.backdate(recentCancelled, 29*24*time.Hour)
	before := map[uuid.UUID]*ent.AdmissionRequest{}
	for _, id := range []uuid.UUID{oldAdmitted, oldCancelled, recentCancelled, sent} {
		before[id] = f.request(id)
	}

	// One request per transaction: the loop must go on while batches are full.
	n, err := f.svc.ArchiveDue(context.Background(), DefaultArchiveAfter, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("archived %d requests, want 2", n)
	}
	for _, id := range []uuid.UUID{oldAdmitted, oldCancelled} {
		r := f.request(id)
		if r.Status != enums.RequestStatusArchived || r.ArchivedAt == nil || r.Version != before[id].Version+1 {
			t.Errorf("request %s: status %s, archived at %v, version %d (was %d): want ARCHIVED, a time, one more",
				before[id].Reference, r.Status, r.ArchivedAt, r.Version, before[id].Version)
		}
		// The statistics read these: archiving keeps them.
		if !timesEqual(r.AdmittedAt, before[id].AdmittedAt) || !timesEqual(r.CancelledAt, before[id].CancelledAt) {
			t.Errorf("request %s: admission or cancellation time changed by archiving", r.Reference)
		}
		evs := f.archivedEvents(id)
		if len(evs) != 1 {
			t.Fatalf("request %s: %d REQUEST_ARCHIVED events, want 1", r.Reference, len(evs))
		}
		if e := evs[0]; e.FromStatus != string(before[id].Status) || e.ToStatus != string(enums.RequestStatusArchived) ||
			e.ActorID != nil || e.DispatchID != nil {
			t.Errorf("request %s: event %s → %s, actor %v, dispatch %v: want %s → ARCHIVED by the system, request-level",
				r.Reference, e.FromStatus, e.ToStatus, e.ActorID, e.DispatchID, before[id].Status)
		}
	}
	for _, id := range []uuid.UUID{recentCancelled, sent} {
		if r := f.request(id); r.Status != before[id].Status || r.ArchivedAt != nil || len(f.archivedEvents(id)) != 0 {
			t.Errorf("request %s (%s) was archived: status %s", r.Reference, before[id].Status, r.Status)
		}
	}
	pub.mu.Lock()
	published := 0
	for _, e := range pub.events {
		if e.Type == enums.EventTypeRequestArchived {
			published++
		}
	}
	pub.mu.Unlock()
	if published != 2 {
		t.Errorf("%d REQUEST_ARCHIVED events published, want 2 (live dashboards learn of it)", published)
	}

	// Nothing more is due: a second pass changes nothing.
	if n, err := f.svc.ArchiveDue(context.Background(), DefaultArchiveAfter, 10); err != nil || n != 0 {
		t.Fatalf("second pass archived %d (%v), want 0", n, err)
	}
	// ARCHIVED is final: no user step leaves it.
	_, err = f.svc.Cancel(f.as(prescriber), oldCancelled, enums.CancellationReasonOther, ptr("erreur"))
	if err == nil || apperr.From(err).Code != apperr.Conflict {
		t.Errorf("cancelling an archived request: %v, want CONFLICT", err)
	}
	// The receiving unit still reads what it was sent.
	if _, err := f.db.Client.AdmissionRequest.Get(f.as(perineDoctor), oldAdmitted); err != nil {
		t.Errorf("the admitting unit no longer sees the archived request: %v", err)
	}

	// The delay is the rule: 29 days old is archived with a 28-day delay.
	if n, err := f.svc.ArchiveDue(context.Background(), 28*24*time.Hour, 10); err != nil || n != 1 {
		t.Fatalf("with a 28-day delay: archived %d (%v), want 1", n, err)
	}
	if _, err := f.svc.ArchiveDue(context.Background(), 0, 10); err == nil {
		t.Error("a zero delay was accepted")
	}
}

// TestArchiveDueConcurrently runs two passes at once (two instances): each
// due request is archived once, with one event.
func TestArchiveDueConcurrently(t *testing.T) {
	f := newFixture(t)
	var ids []uuid.UUID
	for _, name := range []string{"Un", "Deux", "Trois", "Quatre", "Cinq", "Six"} {
		id := f.cancelled(name)
		f.backdate(id, 40*24*time.Hour)
		ids = append(ids, id)
	}
	other := NewService(f.db.Client, nil, Config{})
	t.Cleanup(other.Close)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 2)
	for i, s := range []*Service{f.svc, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = s.ArchiveDue(context.Background(), DefaultArchiveAfter, 2)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if counts[0]+counts[1] != len(ids) {
		t.Errorf("archived %d + %d, want %d in all", counts[0], counts[1], len(ids))
	}
	for _, id := range ids {
		if r := f.request(id); r.Status != enums.RequestStatusArchived {
			t.Errorf("request %s: %s, want ARCHIVED", r.Reference, r.Status)
		}
		if n := len(f.archivedEvents(id)); n != 1 {
			t.Errorf("%d REQUEST_ARCHIVED events for one request, want 1", n)
		}
	}
	if n := f.db.Client.AdmissionRequest.Query().Where(admissionrequest.StatusEQ(enums.RequestStatusCancelled)).CountX(f.sys); n != 0 {
		t.Errorf("%d cancelled requests left", n)
	}
}

func timesEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func ptr[T any](v T) *T { return &v }

// TestStartArchiving: the background archiving passes at start and again
// every interval, and Close stops it.
func TestStartArchiving(t *testing.T) {
	f := newFixture(t)
	first := f.cancelled("Première")
	f.backdate(first, 31*24*time.Hour)
	f.svc.StartArchiving(ArchiveConfig{After: DefaultArchiveAfter, Interval: 20 * time.Millisecond})
	waitArchived := func(id uuid.UUID) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if f.request(id).Status == enums.RequestStatusArchived {
				return
			}
		}
		t.Fatalf("request %s not archived by the background passes", f.request(id).Reference)
	}
	waitArchived(first)
	// Due after the first pass: a later pass archives it.
	second := f.cancelled("Seconde")
	f.backdate(second, 31*24*time.Hour)
	waitArchived(second)
	f.svc.Close() // returns once the running pass is over
	if n := len(f.archivedEvents(first)) + len(f.archivedEvents(second)); n != 2 {
		t.Errorf("%d REQUEST_ARCHIVED events, want 2", n)
	}
}
