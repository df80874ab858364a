package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"passerelle/demo/demotest"
	"passerelle/ent"
	"passerelle/ent/dispatch"
	"passerelle/ent/event"
	"passerelle/ent/habilitation"
	"passerelle/ent/notification"
	"passerelle/ent/unit"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/store"
	"passerelle/viewer"
	"passerelle/workflow"
)

const (
	prescriber   = "prescripteur@diaconesses.demo"
	careTeam     = "soignant@diaconesses.demo"
	adminSocial  = "gestionnaire@diaconesses.demo"
	referent     = "referent@diaconesses.demo"
	pompidou     = "prescripteur@pompidou.demo"
	perineDoctor = "medecin@sainte-perine.demo"
	perineStaff  = "secretariat@sainte-perine.demo"
	garnierDoc   = "medecin@jeanne-garnier.demo"
)

// outbox is a Sender that keeps what it was given, failing while fail is set.
type outbox struct {
	mu   sync.Mutex
	sent []Mail
	fail error
}

func (o *outbox) Send(_ context.Context, m Mail) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.sent = append(o.sent, m)
	return nil
}

type fixture struct {
	t    *testing.T
	db   *store.DB
	wf   *workflow.Service
	sys  context.Context
	now  time.Time
	mail *outbox
	n    *Notifier
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := demotest.Open(t, store.Config{})
	f := &fixture{t: t, db: db, sys: viewer.System(context.Background()), now: time.Now().UTC(), mail: &outbox{}}
	f.wf = workflow.NewService(db.Client, nil, workflow.Config{})
	t.Cleanup(f.wf.Close)
	f.n = New(db.Client, Config{Sender: f.mail, PublicURL: "https://passerelle.example.org", Now: func() time.Time { return f.now }})
	return f
}

// optIn turns the e-mail notifications on for the habilitations of these accounts.
func (f *fixture) optIn(emails ...string) {
	f.t.Helper()
	_, err := f.db.Client.Habilitation.Update().Where(habilitation.HasUserWith(user.EmailIn(emails...))).
		SetEmailNotifications(true).Save(viewer.AllowWrites(f.sys))
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) as(email string) context.Context {
	f.t.Helper()
	return demotest.As(f.t, f.db.Client, email)
}

func (f *fixture) unitID(name string) uuid.UUID {
	f.t.Helper()
	return f.db.Client.Unit.Query().Where(unit.Name(name)).OnlyIDX(f.sys)
}

func (f *fixture) must(_ any, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// sent creates a request of the Diaconesses, ready, and sends it to units.
func (f *fixture) sent(name string, units ...uuid.UUID) (*ent.AdmissionRequest, map[uuid.UUID]uuid.UUID) {
	f.t.Helper()
	ctx := f.as(prescriber)
	origin := viewer.FromContext(ctx).Habilitations[0].StructureID
	c, err := f.wf.Create(ctx, workflow.CreateInput{OriginStructureID: origin, Urgency: enums.UrgencyWithinWeek,
		Patient: workflow.PatientInput{BirthName: name, FirstName: "Élise", Sex: enums.SexFemale,
			BirthDate: time.Date(1948, 3, 12, 0, 0, 0, 0, time.UTC)}})
	f.must(c, err)
	id := c.Request.ID
	f.must(f.wf.SaveSection(ctx, id, enums.SectionKindMedical, workflow.Patch{"diagnosis": "Adénocarcinome", "pps_score": 30,
		"prognosis": enums.PrognosisWeeks, "patient_informed_of_diagnosis": enums.InformationLevelYes, "patient_agrees_to_usp": true}, nil))
	f.must(f.wf.SaveSection(ctx, id, enums.SectionKindCareProject, workflow.Patch{"stay_goal": enums.StayGoalSymptomControl}, nil))
	f.must(f.wf.SaveSection(ctx, id, enums.SectionKindAdminSocial, workflow.Patch{"address": "1 rue A", "postal_code": "75012", "city": "Paris"}, nil))
	f.must(f.wf.ValidateMedical(ctx, id))
	req, err := f.wf.Send(ctx, id, units)
	f.must(req, err)
	ds := map[uuid.UUID]uuid.UUID{}
	for _, d := range f.db.Client.AdmissionRequest.QueryDispatches(req).AllX(f.sys) {
		ds[d.UnitID] = d.ID
	}
	return req, ds
}

// prepared returns the e-mails written, by recipient, for the keys with prefix.
func (f *fixture) prepared(prefix string) map[string][]*ent.Notification {
	f.t.Helper()
	out := map[string][]*ent.Notification{}
	for _, n := range f.db.Client.Notification.Query().Where(notification.KeyHasPrefix(prefix)).AllX(f.sys) {
		out[n.Email] = append(out[n.Email], n)
	}
	return out
}

func recipients(m map[string][]*ent.Notification) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sorted(out)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestWhoIsTold walks the rules: each event reaches the people of the side
// it concerns who opted in, never the actor, never another unit, never
// someone who did not opt in.
func TestWhoIsTold(t *testing.T) {
	f := newFixture(t)
	if _, err := f.n.Prepare(context.Background()); err != nil { // the cursor starts after the demo data
		t.Fatal(err)
	}
	f.optIn(prescriber, careTeam, adminSocial, referent, pompidou, perineDoctor, perineStaff, garnierDoc)
	perine, garnier := f.unitID("USP Sainte-Périne"), f.unitID("Maison médicale Jeanne Garnier")
	req, ds := f.sent("Dupont", perine, garnier)
	if _, err := f.n.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	sent := f.prepared("event:")
	// Both Sainte-Périne people and Jeanne Garnier's physician: one each.
	if got, want := recipients(sent), []string{garnierDoc, perineStaff, perineDoctor}; strings.Join(got, " ") != strings.Join(sorted(want), " ") {
		t.Fatalf("REQUEST_SENT told %v, want %v", got, sorted(want))
	}
	m := sent[perineDoctor][0]
	if !strings.Contains(m.Subject, req.Reference) || !strings.Contains(m.Subject, "USP Sainte-Périne") {
		t.Errorf("subject %q lacks the reference or the unit", m.Subject)
	}
	for _, secret := range []string{"Dupont", "Élise", "Adénocarcinome", "1948"} {
		if strings.Contains(m.Subject+m.Body, secret) {
			t.Errorf("the e-mail carries patient data (%q):\n%s\n%s", secret, m.Subject, m.Body)
		}
	}
	if !strings.Contains(m.Body, "https://passerelle.example.org") || !strings.Contains(m.Body, "Médecin de l'unité receveuse") {
		t.Errorf("body lacks the link or the profile:\n%s", m.Body)
	}

	// A refusal by Jeanne Garnier: the requesting side, reason in French.
	reason := enums.RefusalReasonNoBedInTime
	f.must(f.wf.Answer(f.as(garnierDoc), ds[garnier], workflow.AnswerInput{Decision: enums.AnswerDecisionRefuse, RefusalReason: &reason}))
	before := f.db.Client.Notification.Query().CountX(f.sys)
	if _, err := f.n.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	var refusal []*ent.Notification
	for _, n := range f.db.Client.Notification.Query().Order(notification.ByID()).AllX(f.sys)[before:] {
		refusal = append(refusal, n)
	}
	var to []string
	for _, n := range refusal {
		to = append(to, n.Email)
		if !strings.Contains(n.Body, "Pas de lit disponible") && !strings.Contains(n.Body, "lit") {
			t.Errorf("refusal e-mail without its reason:\n%s", n.Body)
		}
	}
	// The requesting side of the Diaconesses: not its referent (no patient
	// data, no requesting profile), not Pompidou's prescriber, not a unit.
	if got, want := sorted(to), sorted([]string{prescriber, careTeam, adminSocial}); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("DISPATCH_REFUSED told %v, want %v", got, want)
	}

	// The prescriber's own step (confirmation) is not e-mailed to them; the
	// confirmed unit is told (Jeanne Garnier, which refused, has nothing
	// withdrawn: its dispatch stays refused).
	f.must(f.wf.Answer(f.as(perineDoctor), ds[perine], workflow.AnswerInput{Decision: enums.AnswerDecisionAccept}))
	f.must(f.wf.Confirm(f.as(prescriber), ds[perine]))
	before = f.db.Client.Notification.Query().CountX(f.sys)
	if _, err := f.n.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	confirmed := f.db.Client.Notification.Query().Order(notification.ByID()).AllX(f.sys)[before:]
	if len(confirmed) == 0 {
		t.Fatal("nothing prepared for the acceptance and the confirmation")
	}
	told := map[string]bool{}
	for _, n := range confirmed {
		told[n.Email+" "+strings.SplitN(n.Subject, " : ", 2)[1]] = true
	}
	for _, want := range []string{prescriber + " Accord de USP Sainte-Périne", perineDoctor + " votre unité est choisie",
		perineStaff + " votre unité est choisie"} {
		if !told[want] {
			t.Errorf("not told: %s (told: %v)", want, told)
		}
	}
	// Nobody is told of their own step.
	for _, n := range f.db.Client.Notification.Query().AllX(f.sys) {
		var id int
		var who string
		if _, err := fmt.Sscanf(strings.ReplaceAll(n.Key, ":", " "), "event %d %s", &id, &who); err != nil {
			t.Fatalf("key %q: %v", n.Key, err)
		}
		e := f.db.Client.Event.GetX(f.sys, int64(id))
		if e.ActorID != nil && e.ActorID.String() == who {
			t.Errorf("%s told of their own %s", n.Email, e.Type)
		}
	}

	// Without opting in, nothing: Pompidou's prescriber was never concerned;
	// Sainte-Périne's secretary turns it off and is not told of the next one.
	_, err := f.db.Client.Habilitation.Update().Where(habilitation.HasUserWith(user.Email(perineStaff))).
		SetEmailNotifications(false).Save(viewer.AllowWrites(f.sys))
	f.must(nil, err)
	f.sent("Martin", perine)
	if _, err := f.n.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.prepared("event:")[pompidou]); n != 0 {
		t.Errorf("Pompidou's prescriber got %d e-mails about the Diaconesses' requests", n)
	}
	last := f.prepared("event:")[perineStaff]
	if len(last) != 2 { // Dupont sent, Dupont confirmed; not Martin
		t.Errorf("the secretary who turned notifications off got %d e-mails, want the 2 from before", len(last))
	}

	// Preparing again writes nothing twice (the cursor, then the keys).
	count := f.db.Client.Notification.Query().CountX(f.sys)
	if _, err := f.n.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := New(f.db.Client, Config{Sender: f.mail})
	if _, err := other.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.db.Client.Notification.Query().CountX(f.sys); n != count {
		t.Errorf("%d e-mails after preparing again, want %d", n, count)
	}
}

// TestDelivery: sent once each; a failing server is retried later, then
// given up; two senders never send one e-mail twice.
func TestDelivery(t *testing.T) {
	f := newFixture(t)
	f.must(f.n.Prepare(context.Background()))
	f.optIn(perineDoctor, perineStaff)
	perine := f.unitID("USP Sainte-Périne")
	f.sent("Durand", perine)
	f.must(f.n.Prepare(context.Background()))

	f.mail.fail = errors.New("421 service not available")
	sent, failed, err := f.n.Deliver(context.Background())
	if err != nil || sent != 0 || failed != 0 {
		t.Fatalf("deliver with the server down: sent %d failed %d err %v", sent, failed, err)
	}
	for _, n := range f.db.Client.Notification.Query().AllX(f.sys) {
		if n.Attempts != 1 || n.SentAt != nil || n.LastError == nil || !n.NextAttemptAt.After(f.now.Add(50*time.Second)) {
			t.Errorf("after a failure: attempts %d, sent %v, error %v, next %v", n.Attempts, n.SentAt, n.LastError, n.NextAttemptAt)
		}
	}
	// Not yet due: nothing is tried.
	if sent, _, _ := f.n.Deliver(context.Background()); sent != 0 || len(f.mail.sent) != 0 {
		t.Fatalf("retried before its time")
	}
	// The server is back; a minute later, two senders at once.
	f.mail.fail = nil
	f.now = f.now.Add(61 * time.Second)
	other := New(f.db.Client, Config{Sender: f.mail, Now: func() time.Time { return f.now }})
	var wg sync.WaitGroup
	for _, n := range []*Notifier{f.n, other} {
		wg.Add(1)
		go func() { defer wg.Done(); _, _, _ = n.Deliver(context.Background()) }()
	}
	wg.Wait()
	if len(f.mail.sent) != 2 {
		t.Fatalf("%d e-mails sent, want 2 (each once)", len(f.mail.sent))
	}
	if f.mail.sent[0].To == f.mail.sent[1].To {
		t.Errorf("the same person got both: %v", f.mail.sent)
	}
	for _, n := range f.db.Client.Notification.Query().AllX(f.sys) {
		if n.SentAt == nil || n.Attempts != 2 {
			t.Errorf("after delivery: sent %v, attempts %d", n.SentAt, n.Attempts)
		}
	}

	// A server that never comes back: given up after maxAttempts.
	f.sent("Bernard", perine)
	f.must(f.n.Prepare(context.Background()))
	f.mail.fail = errors.New("550 mailbox unavailable")
	for range maxAttempts {
		if _, _, err := f.n.Deliver(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(lastRetryDelay + time.Minute)
	}
	gone := f.db.Client.Notification.Query().Where(notification.FailedAtNotNil()).AllX(f.sys)
	if len(gone) != 2 || gone[0].Attempts != maxAttempts {
		t.Fatalf("%d given up, want 2 after %d attempts", len(gone), maxAttempts)
	}
}

// TestReminders: late after 24 hours to the unit, overdue after 48 hours to
// both sides, each once; an answered dispatch is not reminded.
func TestReminders(t *testing.T) {
	f := newFixture(t)
	f.must(f.n.Prepare(context.Background()))
	f.optIn(prescriber, perineDoctor, garnierDoc)
	perine, garnier := f.unitID("USP Sainte-Périne"), f.unitID("Maison médicale Jeanne Garnier")
	_, ds := f.sent("Petit", perine, garnier)
	f.must(f.wf.Answer(f.as(garnierDoc), ds[garnier], workflow.AnswerInput{Decision: enums.AnswerDecisionAccept}))

	f.now = f.now.Add(25 * time.Hour)
	f.must(f.n.PrepareReminders(context.Background()))
	if got := recipients(f.prepared("late:")); strings.Join(got, " ") != perineDoctor {
		t.Errorf("late reminders to %v, want the waiting unit's physician alone", got)
	}
	if n := len(f.prepared("overdue:")); n != 0 {
		t.Errorf("%d overdue reminders at 25 hours", n)
	}
	f.now = f.now.Add(24 * time.Hour)
	f.must(f.n.PrepareReminders(context.Background()))
	f.must(f.n.PrepareReminders(context.Background()))
	if got := recipients(f.prepared("overdue:")); strings.Join(got, " ") != strings.Join(sorted([]string{prescriber, perineDoctor}), " ") {
		t.Errorf("overdue reminders to %v, want the unit and the requesting side", got)
	}
	if n := len(f.prepared("late:")[perineDoctor]); n != 1 {
		t.Errorf("%d late reminders, want 1", n)
	}
	d := f.db.Client.Dispatch.Query().Where(dispatch.ID(ds[perine])).OnlyX(f.sys)
	if m := f.prepared("overdue:")[prescriber][0]; !strings.Contains(m.Body, "48") && !strings.Contains(m.Subject, "48") {
		t.Errorf("overdue reminder for %s: %s", d.ID, m.Subject)
	}
}

// TestPoisonEvent: an event whose e-mails cannot be prepared is retried a
// few passes, then given up, and the e-mails after it go out.
func TestPoisonEvent(t *testing.T) {
	f := newFixture(t)
	f.must(f.n.Prepare(context.Background()))
	f.optIn(perineDoctor)
	perine := f.unitID("USP Sainte-Périne")
	f.sent("Avant", perine)
	// The first REQUEST_SENT now names a request that is gone for the
	// notifier (its unit unknown): preparing it fails.
	ev := f.db.Client.Event.Query().Where(event.TypeEQ(enums.EventTypeRequestSent)).OnlyX(f.sys)
	q := "UPDATE events SET unit_id = ? WHERE id = ?"
	if f.db.Dialect == dialect.Postgres {
		q = "UPDATE events SET unit_id = $1 WHERE id = $2"
	}
	if _, err := f.db.SQL.ExecContext(context.Background(), q, uuid.New(), ev.ID); err != nil {
		t.Fatal(err) // events are immutable to ent: the test changes the row underneath
	}
	f.sent("Après", perine)
	for pass := 1; pass < giveUpAfter; pass++ {
		if _, err := f.n.Prepare(context.Background()); err == nil {
			t.Fatalf("pass %d: the failing event did not fail the pass", pass)
		}
		if n := f.db.Client.Notification.Query().CountX(f.sys); n != 0 {
			t.Fatalf("pass %d: %d e-mails written past a failing event", pass, n)
		}
	}
	if _, err := f.n.Prepare(context.Background()); err != nil {
		t.Fatalf("after %d passes the event is still not given up: %v", giveUpAfter, err)
	}
	if got := recipients(f.prepared("event:")); len(got) != 1 || got[0] != perineDoctor {
		t.Errorf("after the failing event: e-mails to %v, want the physician's about the second request", got)
	}
}

// TestExpiringHabilitationReminders: a habilitation ending within 15 days is
// e-mailed once to the referents of its structure who opted in — not to
// regional support, not to the structure's other people.
func TestExpiringHabilitationReminders(t *testing.T) {
	f := newFixture(t)
	f.optIn(referent, prescriber, "support@region.demo")
	sys := viewer.AllowWrites(f.sys)
	shorten := func(email string, d time.Duration) {
		t.Helper()
		if _, err := f.db.Client.Habilitation.Update().Where(habilitation.HasUserWith(user.Email(email))).
			SetValidUntil(f.now.Add(d)).Save(sys); err != nil {
			t.Fatal(err)
		}
	}
	shorten(careTeam, 10*24*time.Hour)
	shorten(adminSocial, 20*24*time.Hour) // not yet
	for range 2 {
		if _, err := f.n.PrepareReminders(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got := f.prepared("expiring:")
	if r := recipients(got); len(r) != 1 || r[0] != referent || len(got[referent]) != 1 {
		t.Fatalf("expiring-habilitation e-mails to %v (%d to the referent), want one to the Diaconesses' referent", r, len(got[referent]))
	}
	m := got[referent][0]
	care := f.db.Client.User.Query().Where(user.Email(careTeam)).OnlyX(f.sys)
	if !strings.Contains(m.Subject, care.FirstName+" "+care.LastName) || !strings.Contains(m.Body, "Équipe soignante") {
		t.Errorf("the e-mail does not name the holder and the profile:\n%s\n%s", m.Subject, m.Body)
	}
}
