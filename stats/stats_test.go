package stats

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/dispatch"
	"passerelle/ent/predicate"
	"passerelle/ent/structure"
	"passerelle/ent/unit"
	"passerelle/enums"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// openDB gives the test a migrated database (SQLite, or PostgreSQL with
// PASSERELLE_TEST_POSTGRES).
func openDB(t testing.TB) *store.DB {
	t.Helper()
	return storetest.Open(t, store.Config{})
}

// world is the directory the generated requests refer to.
type world struct {
	authority  uuid.UUID   // the observatory's structure
	origins    []uuid.UUID // requesting structures
	usp        []uuid.UUID // USP structures
	units      []uuid.UUID // their units (two each)
	unitOwner  map[uuid.UUID]uuid.UUID
	author     uuid.UUID
	patient    uuid.UUID
	references int
}

// newWorld writes structures of several kinds in several départements, two
// USP units per USP structure, one author and one patient.
func newWorld(t testing.TB, ctx context.Context, client *ent.Client) *world {
	t.Helper()
	w := &world{unitOwner: map[uuid.UUID]uuid.UUID{}}
	n := 0
	structure := func(kind enums.StructureKind, dep string) uuid.UUID {
		n++
		s, err := client.Structure.Create().SetFiness(fmt.Sprintf("%09d", n)).SetName(fmt.Sprintf("Structure %d", n)).
			SetKind(kind).SetDepartment(dep).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	w.authority = structure(enums.StructureKindAuthority, "75")
	for _, o := range []struct {
		kind enums.StructureKind
		dep  string
	}{
		{enums.StructureKindMco, "75"}, {enums.StructureKindMco, "92"}, {enums.StructureKindSmr, "93"},
		{enums.StructureKindHad, "75"}, {enums.StructureKindEhpad, "94"}, {enums.StructureKindDac, "2A"},
		{enums.StructureKindLiberalPractice, "92"},
	} {
		w.origins = append(w.origins, structure(o.kind, o.dep))
	}
	for _, dep := range []string{"75", "91", "92"} {
		s := structure(enums.StructureKindUsp, dep)
		w.usp = append(w.usp, s)
		for i := range 2 {
			u, err := client.Unit.Create().SetStructureID(s).SetName(fmt.Sprintf("USP %s-%d", dep, i)).
				SetKind(enums.UnitKindUsp).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			w.units = append(w.units, u.ID)
			w.unitOwner[u.ID] = s
		}
	}
	u, err := client.User.Create().SetEmail("auteur@example.test").SetFirstName("Anne").SetLastName("Auteur").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.author = u.ID
	p, err := client.Patient.Create().SetBirthName("Patient").SetFirstName("Test").
		SetBirthDate(time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC)).SetSex(enums.SexFemale).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.patient = p.ID
	return w
}

func (w *world) request(tx *ent.Tx, origin uuid.UUID, created time.Time) *ent.AdmissionRequestCreate {
	w.references++
	return tx.AdmissionRequest.Create().SetReference(fmt.Sprintf("USP-TEST-%07d", w.references)).
		SetOriginStructureID(origin).SetCreatedByID(w.author).SetPatientID(w.patient).
		SetUrgency(enums.UrgencyWithinWeek).SetCreatedAt(created).SetUpdatedAt(created)
}

// bulk writes the builders in one transaction, by chunks under every
// engine's bound-parameter limit.
func bulk[B any](t testing.TB, ctx context.Context, client *ent.Client, n int,
	build func(tx *ent.Tx, i int) B, save func(tx *ent.Tx, bs []B) error) {
	t.Helper()
	tx, err := client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 1000 // ≤ 25 columns each: 25 000 parameters at most
	for start := 0; start < n; start += chunk {
		bs := make([]B, 0, chunk)
		for i := start; i < min(n, start+chunk); i++ {
			bs = append(bs, build(tx, i))
		}
		if err := save(tx, bs); err != nil {
			_ = tx.Rollback()
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// randomTime is an instant of the 14 months before 2026-11-01, with
// nanoseconds (SQLite keeps them in the text, PostgreSQL microseconds).
func randomTime(r *rand.Rand) time.Time {
	start := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	return start.Add(time.Duration(r.Int64N(int64(426 * 24 * time.Hour))))
}

// randomDelay is a delay after an instant: often whole minutes (ties in the
// medians), sometimes sub-millisecond, sometimes days.
func randomDelay(r *rand.Rand) time.Duration {
	switch r.IntN(4) {
	case 0:
		return time.Duration(r.IntN(120)) * time.Minute
	case 1:
		return time.Duration(r.Int64N(int64(time.Millisecond)))
	default:
		return time.Duration(r.Int64N(int64(5 * 24 * time.Hour)))
	}
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// randomRequests writes n requests in every combination of states the
// indicators read (not only those the workflow allows: e.g. admitted
// without having been sent, refused without a reason), with 0–4 dispatches.
func randomRequests(t testing.TB, ctx context.Context, client *ent.Client, w *world, seed uint64, n int) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 42))
	type plan struct {
		req        *ent.AdmissionRequestCreate
		dispatches func(tx *ent.Tx, id uuid.UUID) []*ent.DispatchCreate
	}
	plans := make([]plan, n)
	tx, err := client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plans {
		created := randomTime(r)
		c := w.request(tx, pick(r, w.origins), created)
		var sent *time.Time
		if r.IntN(5) > 0 {
			s := created.Add(randomDelay(r))
			sent = &s
			c.SetSentAt(s).SetStatus(enums.RequestStatusSent)
		}
		if r.IntN(4) == 0 {
			c.SetConfirmedAt(created.Add(randomDelay(r) + 6*time.Hour))
		}
		if r.IntN(3) == 0 {
			c.SetAdmittedAt(created.Add(randomDelay(r) + 24*time.Hour))
		}
		if i%3 != 0 { // a wished date, from a week before creation to a fortnight after (no draw: r's sequence stays)
			y, m, d := created.UTC().Date()
			c.SetDesiredAdmissionDate(time.Date(y, m, d+i%22-7, 0, 0, 0, 0, time.UTC))
		}
		if r.IntN(5) == 0 {
			c.SetCancelledAt(created.Add(time.Hour)).
				SetCancellationReason(pick(r, enums.CancellationReasonValues))
		}
		k := 0
		if sent != nil {
			k = r.IntN(5)
		}
		units := slices.Clone(w.units)
		r.Shuffle(len(units), func(i, j int) { units[i], units[j] = units[j], units[i] })
		units = units[:k]
		statuses := make([]enums.DispatchStatus, k)
		closed := false // at most one CONFIRMED/ADMITTED/NOT_ADMITTED per request
		for j := range statuses {
			for {
				s := pick(r, enums.DispatchStatusValues)
				final := s == enums.DispatchStatusConfirmed || s == enums.DispatchStatusAdmitted ||
					s == enums.DispatchStatusNotAdmitted
				if final && closed {
					continue
				}
				closed = closed || final
				statuses[j] = s
				break
			}
		}
		read, answer, reason := make([]*time.Time, k), make([]*time.Time, k), make([]*enums.RefusalReason, k)
		// A non-admission's reason, drawn without r (its sequence stays):
		// on every NOT_ADMITTED dispatch, and now and then on another one,
		// which the figures must ignore.
		notAdmitted := make([]*enums.NotAdmittedReason, k)
		for j := range k {
			if statuses[j] == enums.DispatchStatusNotAdmitted || (i+j)%13 == 0 {
				x := enums.NotAdmittedReasonValues[(i+j)%len(enums.NotAdmittedReasonValues)]
				notAdmitted[j] = &x
			}
		}
		for j := range k {
			if r.IntN(4) > 0 {
				x := sent.Add(randomDelay(r))
				read[j] = &x
			}
			if r.IntN(2) == 0 {
				x := sent.Add(randomDelay(r))
				answer[j] = &x
			}
			if statuses[j] == enums.DispatchStatusRefused && r.IntN(6) > 0 || r.IntN(10) == 0 {
				x := pick(r, enums.RefusalReasonValues)
				reason[j] = &x
			}
		}
		plans[i] = plan{req: c, dispatches: func(tx *ent.Tx, id uuid.UUID) []*ent.DispatchCreate {
			out := make([]*ent.DispatchCreate, k)
			for j := range k {
				out[j] = tx.Dispatch.Create().SetRequestID(id).SetUnitID(units[j]).SetStatus(statuses[j]).
					SetUrgency(enums.UrgencyWithinWeek).SetSentAt(*sent).SetNillableReadAt(read[j]).
					SetNillableAnsweredAt(answer[j]).SetNillableRefusalReason(reason[j]).SetNillableNotAdmittedReason(notAdmitted[j])
			}
			return out
		}}
	}
	var ds []*ent.DispatchCreate
	for start := 0; start < n; start += 1000 {
		chunk := plans[start:min(n, start+1000)]
		bs := make([]*ent.AdmissionRequestCreate, len(chunk))
		for i, p := range chunk {
			bs[i] = p.req
		}
		reqs, err := tx.AdmissionRequest.CreateBulk(bs...).Save(ctx)
		if err != nil {
			_ = tx.Rollback()
			t.Fatal(err)
		}
		for i, p := range chunk {
			ds = append(ds, p.dispatches(tx, reqs[i].ID)...)
		}
	}
	for start := 0; start < len(ds); start += 1000 {
		if err := tx.Dispatch.CreateBulk(ds[start:min(len(ds), start+1000)]...).Exec(ctx); err != nil {
			_ = tx.Rollback()
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// populated is a fresh database holding a world and n random requests
// drawn from seed, with the observatory's context.
func populated(t testing.TB, seed uint64, n int) (*store.DB, *world, context.Context) {
	t.Helper()
	db := openDB(t)
	sys := viewer.System(context.Background())
	w := newWorld(t, sys, db.Client)
	randomRequests(t, sys, db.Client, w, seed, n)
	return db, w, signedIn(as(enums.ProfileObserver, w.authority, enums.StructureKindAuthority))
}

func as(p enums.Profile, structure uuid.UUID, kind enums.StructureKind) viewer.Habilitation {
	return viewer.Habilitation{ID: uuid.New(), Profile: p, StructureID: structure, StructureKind: kind,
		ValidUntil: time.Now().Add(time.Hour)}
}

func signedIn(hs ...viewer.Habilitation) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: uuid.New(), Habilitations: hs})
}

// referenceCompute is Compute as it was before the aggregates moved into
// SQL: the scope as ent's correlated predicates, every request of the scope
// loaded with its origin structure and its dispatches, the indicators
// computed in Go (build). Test-only: it fails beyond SQLite's 32 766 bound
// parameters.
func referenceCompute(ctx context.Context, client *ent.Client, f Filter) (*Report, error) {
	v := viewer.FromContext(ctx)
	var scope []predicate.AdmissionRequest
	if !authz.CanAdministerAnywhere(v, authz.ViewStatistics) {
		own := authz.AdministeredStructures(v, authz.ViewStatistics)
		if len(own) == 0 {
			return nil, apperr.New(apperr.Forbidden, "statistics are for the observatory and structure referents")
		}
		scope = append(scope, admissionrequest.Or(
			admissionrequest.OriginStructureIDIn(own...),
			admissionrequest.HasDispatchesWith(dispatch.HasUnitWith(unit.StructureIDIn(own...))),
		))
	}
	if f.From != nil {
		scope = append(scope, admissionrequest.CreatedAtGTE(*f.From))
	}
	if f.To != nil {
		scope = append(scope, admissionrequest.CreatedAtLT(f.To.AddDate(0, 0, 1)))
	}
	if f.Department != nil {
		scope = append(scope, admissionrequest.HasOriginStructureWith(structure.Department(*f.Department)))
	}
	if f.OriginKind != nil {
		scope = append(scope, admissionrequest.HasOriginStructureWith(structure.KindEQ(*f.OriginKind)))
	}
	if f.UnitID != nil {
		scope = append(scope, admissionrequest.HasDispatchesWith(dispatch.UnitID(*f.UnitID)))
	}
	reqs, err := client.AdmissionRequest.Query().Where(scope...).WithOriginStructure().
		WithDispatches().All(viewer.System(ctx))
	if err != nil {
		return nil, err
	}
	return build(reqs), nil
}

// paris is the reference's own time zone for an admission's day.
var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return l
}()

// build is the former in-Go computation, unchanged but for the month of
// creation, now explicitly taken in UTC (it was the driver's location: UTC
// on SQLite, the process's on PostgreSQL).
func build(reqs []*ent.AdmissionRequest) *Report {
	r := &Report{Requests: len(reqs)}
	refusals, cancels, kinds, deps, months := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	notAdmitted := map[string]int{}
	var toRead, toAnswer, toAdmit, desiredToAdmit []float64
	dispatches, unanswered := 0, 0
	for _, q := range reqs {
		if s := q.Edges.OriginStructure; s != nil {
			kinds[string(s.Kind)]++
			deps[s.Department]++
		}
		months[q.CreatedAt.UTC().Format("2006-01")]++
		if q.SentAt != nil {
			r.Sent++
		}
		if q.ConfirmedAt != nil {
			r.Confirmed++
		}
		if q.AdmittedAt != nil {
			r.Admitted++
			if q.SentAt != nil {
				toAdmit = append(toAdmit, q.AdmittedAt.Sub(*q.SentAt).Minutes())
			}
			if q.DesiredAdmissionDate != nil {
				y, m, d := q.AdmittedAt.In(paris).Date()
				day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
				desiredToAdmit = append(desiredToAdmit, math.Round(day.Sub(q.DesiredAdmissionDate.UTC()).Hours()/24))
			}
		}
		if q.CancellationReason != nil {
			r.Cancelled++
			cancels[string(*q.CancellationReason)]++
		}
		died := q.CancellationReason != nil && *q.CancellationReason == enums.CancellationReasonPatientDeceased
		for _, d := range q.Edges.Dispatches {
			dispatches++
			if d.ReadAt != nil {
				toRead = append(toRead, d.ReadAt.Sub(d.SentAt).Minutes())
			}
			if d.AnsweredAt != nil {
				toAnswer = append(toAnswer, d.AnsweredAt.Sub(d.SentAt).Minutes())
			} else {
				unanswered++
			}
			if d.Status == enums.DispatchStatusRefused && d.RefusalReason != nil {
				refusals[string(*d.RefusalReason)]++
			}
			if d.Status == enums.DispatchStatusNotAdmitted && d.NotAdmittedReason != nil {
				notAdmitted[string(*d.NotAdmittedReason)]++
				died = died || *d.NotAdmittedReason == enums.NotAdmittedReasonPatientDeceased
			}
		}
		if died {
			r.DeathsBeforeAdmission++
		}
	}
	if r.Sent > 0 {
		r.AdmissionRate = refRatio(r.Admitted, r.Sent)
		r.UnitsPerRequest = refRatio(dispatches, r.Sent)
	}
	if dispatches > 0 {
		r.UnansweredShare = refRatio(unanswered, dispatches)
	}
	r.MedianSendToRead, r.MedianSendToAnswer, r.MedianSendToAdmission = refMedian(toRead), refMedian(toAnswer), refMedian(toAdmit)
	r.MedianDesiredToAdmissionDays = refMedian(desiredToAdmit)
	r.RefusalsByReason, r.CancellationsByReason = refCounts(refusals), refCounts(cancels)
	r.NonAdmissionsByReason = refCounts(notAdmitted)
	r.ByOriginKind, r.ByDepartment, r.ByMonth = refCounts(kinds), refCounts(deps), refCounts(months)
	sort.Slice(r.ByMonth, func(i, j int) bool { return r.ByMonth[i].Key < r.ByMonth[j].Key })
	return r
}

func refRatio(a, b int) *float64 {
	x := float64(a) / float64(b)
	return &x
}

func refMedian(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return &m
}

func refCounts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// medianTolerance: SQLite's julianday() reads times to the millisecond
// (the reference subtracts nanoseconds), so a median may differ by up to
// one millisecond; PostgreSQL agrees to rounding.
const medianTolerance = 1.0 / 60_000

// sameReport compares two reports: counts and ratios exactly, medians to
// medianTolerance minutes.
func sameReport(t *testing.T, got, want *Report) {
	t.Helper()
	g, w := *got, *want
	// When it was computed is not a figure.
	if g.ComputedAt.IsZero() {
		t.Error("the report does not say when it was computed")
	}
	g.ComputedAt, w.ComputedAt = time.Time{}, time.Time{}
	for _, m := range []struct {
		name      string
		got, want **float64
	}{
		{"MedianSendToRead", &g.MedianSendToRead, &w.MedianSendToRead},
		{"MedianSendToAnswer", &g.MedianSendToAnswer, &w.MedianSendToAnswer},
		{"MedianSendToAdmission", &g.MedianSendToAdmission, &w.MedianSendToAdmission},
		{"MedianDesiredToAdmissionDays", &g.MedianDesiredToAdmissionDays, &w.MedianDesiredToAdmissionDays},
	} {
		switch {
		case (*m.got == nil) != (*m.want == nil):
			t.Errorf("%s: got %v, want %v", m.name, fmtPtr(*m.got), fmtPtr(*m.want))
		case *m.got != nil && math.Abs(**m.got-**m.want) > medianTolerance:
			t.Errorf("%s: got %.9f, want %.9f", m.name, **m.got, **m.want)
		}
		*m.got, *m.want = nil, nil
	}
	// Empty and nil bucket lists mean the same.
	for _, p := range []*[]Count{&g.RefusalsByReason, &g.CancellationsByReason, &g.NonAdmissionsByReason, &g.ByOriginKind, &g.ByDepartment, &g.ByMonth,
		&w.RefusalsByReason, &w.CancellationsByReason, &w.NonAdmissionsByReason, &w.ByOriginKind, &w.ByDepartment, &w.ByMonth} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("report differs:\n got %s\nwant %s", dump(&g), dump(&w))
	}
}

func fmtPtr(x *float64) string {
	if x == nil {
		return "nil"
	}
	return fmt.Sprint(*x)
}

func dump(r *Report) string {
	return fmt.Sprintf("requests=%d sent=%d confirmed=%d admitted=%d cancelled=%d rate=%s units=%s unanswered=%s "+
		"refusals=%v cancellations=%v kinds=%v deps=%v months=%v",
		r.Requests, r.Sent, r.Confirmed, r.Admitted, r.Cancelled, fmtPtr(r.AdmissionRate), fmtPtr(r.UnitsPerRequest),
		fmtPtr(r.UnansweredShare), r.RefusalsByReason, r.CancellationsByReason, r.ByOriginKind, r.ByDepartment, r.ByMonth)
}

func ptr[T any](x T) *T { return &x }

// TestComputeMatchesReference compares Compute with the former in-Go
// computation on random requests, for the observatory and for referents
// (origin side, receiving side, both), with every filter.
func TestComputeMatchesReference(t *testing.T) {
	db, w, observer := populated(t, 1, 1500)
	viewers := map[string]context.Context{
		"observer":        observer,
		"origin referent": signedIn(as(enums.ProfileStructureReferent, w.origins[0], enums.StructureKindMco)),
		"USP referent":    signedIn(as(enums.ProfileStructureReferent, w.usp[1], enums.StructureKindUsp)),
		"two structures": signedIn(as(enums.ProfileStructureReferent, w.origins[2], enums.StructureKindSmr),
			as(enums.ProfileStructureReferent, w.usp[0], enums.StructureKindUsp)),
	}
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	mco, usp := enums.StructureKindMco, enums.StructureKindUsp
	filters := map[string]Filter{
		"none":                   {},
		"from":                   {From: &from},
		"to (inclusive)":         {To: &to},
		"from-to":                {From: &from, To: &to},
		"department":             {Department: ptr("92")},
		"unit":                   {UnitID: &w.units[2]},
		"origin kind":            {OriginKind: &mco},
		"everything":             {From: &from, To: &to, Department: ptr("75"), UnitID: &w.units[0], OriginKind: &mco},
		"nothing matches (kind)": {OriginKind: &usp},
		"nothing matches (dep)":  {Department: ptr("976")},
	}
	all, err := Compute(observer, db.Client, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// The data set must exercise every indicator.
	if all.Requests != 1500 || len(all.RefusalsByReason) < 5 || len(all.CancellationsByReason) < 3 ||
		len(all.ByMonth) < 13 || all.MedianSendToAdmission == nil || all.MedianDesiredToAdmissionDays == nil || all.Confirmed == 0 ||
		len(all.NonAdmissionsByReason) < 3 || all.DeathsBeforeAdmission == 0 {
		t.Fatalf("poor data set: %s", dump(all))
	}
	for vname, ctx := range viewers {
		for fname, f := range filters {
			t.Run(vname+"/"+fname, func(t *testing.T) {
				want, err := referenceCompute(ctx, db.Client, f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Compute(ctx, db.Client, f)
				if err != nil {
					t.Fatal(err)
				}
				sameReport(t, got, want)
				if vname != "observer" && fname == "none" && (got.Requests == 0 || got.Requests == all.Requests) {
					t.Errorf("%s sees %d requests of %d: the scope does not narrow", vname, got.Requests, all.Requests)
				}
			})
		}
	}
}

// TestComputeBeyondSQLiteParameterLimit is the regression test of the
// regional scale: more requests in scope than SQLite's 32 766 bound
// parameters, where loading them with their dispatches failed with "too
// many SQL variables".
func TestComputeBeyondSQLiteParameterLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 33 000 requests")
	}
	const n = 33_000
	db := openDB(t)
	sys := viewer.System(context.Background())
	w := newWorld(t, sys, db.Client)
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	// Request i: created base + i seconds, sent one minute later; every
	// third one admitted i minutes after sending. The first origin
	// structure sends the even requests.
	bulk(t, sys, db.Client, n, func(tx *ent.Tx, i int) *ent.AdmissionRequestCreate {
		c := w.request(tx, w.origins[i%2], base.Add(time.Duration(i)*time.Second)).
			SetSentAt(base.Add(time.Duration(i)*time.Second + time.Minute))
		if i%3 == 0 {
			c.SetAdmittedAt(base.Add(time.Duration(i)*time.Second + time.Minute + time.Duration(i)*time.Minute))
		}
		return c
	}, func(tx *ent.Tx, bs []*ent.AdmissionRequestCreate) error {
		return tx.AdmissionRequest.CreateBulk(bs...).Exec(sys)
	})
	// A few dispatches, read k minutes after sending.
	ids, err := db.Client.AdmissionRequest.Query().Limit(5).IDs(sys)
	if err != nil {
		t.Fatal(err)
	}
	for k, id := range ids {
		if _, err := db.Client.Dispatch.Create().SetRequestID(id).SetUnitID(w.units[k]).
			SetUrgency(enums.UrgencyWithinWeek).SetSentAt(base).SetReadAt(base.Add(time.Duration(k) * time.Minute)).
			Save(sys); err != nil {
			t.Fatal(err)
		}
	}

	got, err := Compute(signedIn(as(enums.ProfileObserver, w.authority, enums.StructureKindAuthority)), db.Client, Filter{})
	if err != nil {
		t.Fatalf("observer: %v", err)
	}
	admitted := (n + 2) / 3
	// Admission delays are 3j minutes for j = 0…admitted−1: the median of
	// 11 000 values is the mean of 3×5 499 and 3×5 500.
	wantMedian := 3 * (float64(admitted/2-1) + float64(admitted/2)) / 2
	if got.Requests != n || got.Sent != n || got.Admitted != admitted || len(got.ByMonth) != 1 ||
		got.MedianSendToAdmission == nil || *got.MedianSendToAdmission != wantMedian ||
		got.MedianSendToRead == nil || *got.MedianSendToRead != 2 {
		t.Fatalf("observer: %s, median admission %s (want %v), read %s", dump(got),
			fmtPtr(got.MedianSendToAdmission), wantMedian, fmtPtr(got.MedianSendToRead))
	}
	// A referent's scope (a subquery with a correlated dispatch branch)
	// beyond the limit too.
	got, err = Compute(signedIn(as(enums.ProfileStructureReferent, w.origins[0], enums.StructureKindMco)), db.Client, Filter{})
	if err != nil {
		t.Fatalf("referent: %v", err)
	}
	if got.Requests != n/2 {
		t.Fatalf("referent: %d requests, want %d", got.Requests, n/2)
	}
}

// TestComputeForbidden: statistics are for the observatory and referents.
func TestComputeForbidden(t *testing.T) {
	db, w, _ := populated(t, 2, 20)
	for name, ctx := range map[string]context.Context{
		"nobody":              context.Background(),
		"no habilitation":     signedIn(),
		"prescriber":          signedIn(as(enums.ProfilePrescriberPhysician, w.origins[0], enums.StructureKindMco)),
		"receiving physician": signedIn(as(enums.ProfileReceiverPhysician, w.usp[0], enums.StructureKindUsp)),
		"regional support":    signedIn(as(enums.ProfileRegionalSupport, w.authority, enums.StructureKindRegionalSupport)),
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := Compute(ctx, db.Client, Filter{})
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Forbidden || rep != nil {
				t.Fatalf("got %v, %v; want FORBIDDEN", rep, err)
			}
		})
	}
}

// TestComputeWaitsForRoom: when as many reports as the bound are being
// computed, the next one waits without touching the database and gives up
// when its context ends; it runs once there is room.
func TestComputeWaitsForRoom(t *testing.T) {
	db, _, observer := populated(t, 2, 20)
	for range cap(computing) {
		computing <- struct{}{}
	}
	ctx, cancel := context.WithCancel(observer)
	cancel()
	if rep, err := Compute(ctx, db.Client, Filter{}); !errors.Is(err, context.Canceled) || rep != nil {
		t.Fatalf("with no room: got %v, %v; want the context's error", rep, err)
	}
	// The right is checked before waiting: a refusal does not wait.
	if _, err := Compute(signedIn(), db.Client, Filter{}); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("a viewer without the right: %v; want FORBIDDEN at once", err)
	}
	<-computing
	rep, err := Compute(observer, db.Client, Filter{})
	if err != nil || rep.Requests != 20 {
		t.Fatalf("with room: %v, %v", rep, err)
	}
	for range cap(computing) - 1 {
		<-computing
	}
}
