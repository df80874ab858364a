package workflow

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/demo/demotest"
	"passerelle/ent"
	"passerelle/ent/unit"
	"passerelle/enums"
	"passerelle/store"
	"passerelle/viewer"
)

// Demo accounts.
const (
	prescriber   = "prescripteur@diaconesses.demo"
	careTeam     = "soignant@diaconesses.demo"
	perineDoctor = "medecin@sainte-perine.demo"
	garnierDoc   = "medecin@jeanne-garnier.demo"
	forcilles    = "medecin@forcilles.demo"
)

// fixture is a workflow service on a fresh migrated database (SQLite file,
// or PostgreSQL with PASSERELLE_TEST_POSTGRES) holding the demo data, with
// every SQL statement counted while armed.
type fixture struct {
	t   testing.TB
	db  *store.DB
	svc *Service
	sys context.Context

	mu    sync.Mutex
	armed bool
	stmts []string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, sys: viewer.System(context.Background())}
	db := demotest.Open(t, store.Config{Trace: f.trace})
	f.db = db
	f.svc = NewService(db.Client, nil, Config{CheckResults: true})
	t.Cleanup(f.svc.Close)
	return f
}

func (f *fixture) trace(_ context.Context, stmt string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed {
		f.stmts = append(f.stmts, stmt)
	}
}

// count returns the statements fn sent.
func (f *fixture) count(fn func()) []string {
	f.mu.Lock()
	f.armed, f.stmts = true, nil
	f.mu.Unlock()
	fn()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
	return f.stmts
}

// as is a context signed in as a demo account.
func (f *fixture) as(email string) context.Context {
	f.t.Helper()
	return demotest.As(f.t, f.db.Client, email)
}

func (f *fixture) unitID(name string) uuid.UUID {
	f.t.Helper()
	id, err := f.db.Client.Unit.Query().Where(unit.Name(name)).OnlyID(f.sys)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// draft creates a request of Hôpital des Diaconesses as the care team.
func (f *fixture) draft(birthName string) uuid.UUID {
	f.t.Helper()
	return f.create(f.as(careTeam), birthName)
}

// create creates a request of the viewer's first structure.
func (f *fixture) create(ctx context.Context, birthName string) uuid.UUID {
	f.t.Helper()
	origin := viewer.FromContext(ctx).Habilitations[0].StructureID
	c, err := f.svc.Create(ctx, CreateInput{OriginStructureID: origin, Urgency: enums.UrgencyWithinWeek,
		Patient: PatientInput{BirthName: birthName, FirstName: "Élise", Sex: enums.SexFemale,
			BirthDate: time.Date(1948, 3, 12, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		f.t.Fatal(err)
	}
	return c.Request.ID
}

// Complete section contents.
var (
	medicalComplete = Patch{"diagnosis": "Adénocarcinome pancréatique", "pps_score": 30,
		"prognosis": enums.PrognosisWeeks, "patient_informed_of_diagnosis": enums.InformationLevelYes,
		"patient_agrees_to_usp": true}
	careComplete  = Patch{"stay_goal": enums.StayGoalSymptomControl}
	adminComplete = Patch{"address": "12 rue des Lilas", "postal_code": "75012", "city": "Paris"}
)

// ready fills every section and validates the medical one.
func (f *fixture) ready(birthName string) uuid.UUID {
	f.t.Helper()
	id := f.draft(birthName)
	f.must(f.svc.SaveSection(f.as(careTeam), id, enums.SectionKindMedical, medicalComplete, nil))
	f.must(f.svc.SaveSection(f.as(careTeam), id, enums.SectionKindCareProject, careComplete, nil))
	f.must(f.svc.SaveSection(f.as(careTeam), id, enums.SectionKindAdminSocial, adminComplete, nil))
	f.must(f.svc.ValidateMedical(f.as(prescriber), id))
	return id
}

func (f *fixture) must(_ any, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// dispatchTo finds the request's dispatch to a unit.
func (f *fixture) dispatchTo(req *ent.AdmissionRequest, unitID uuid.UUID) uuid.UUID {
	f.t.Helper()
	for _, d := range f.db.Client.AdmissionRequest.QueryDispatches(req).AllX(f.sys) {
		if d.UnitID == unitID {
			return d.ID
		}
	}
	f.t.Fatalf("no dispatch to %s", unitID)
	return uuid.Nil
}

// short abbreviates statements for logs.
func short(stmts []string) string {
	var b strings.Builder
	for _, s := range stmts {
		if len(s) > 160 {
			s = s[:160] + "…"
		}
		b.WriteString("\n    " + s)
	}
	return b.String()
}
