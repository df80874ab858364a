package workflow

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/enums"
)

// TestStatementsPerOperation pins the SQL statements each workflow
// operation sends (transaction begin and commit included; no event
// publisher, so no PostgreSQL order lock or NOTIFY). A change that adds a
// statement to an operation shows here; lower the numbers when an
// operation gets cheaper.
func TestStatementsPerOperation(t *testing.T) {
	f := newFixture(t)
	f.svc.checkResults = false // the statements of production, not the tests' re-reads
	perine, garnier, forc := f.unitID("USP Sainte-Périne"), f.unitID("Maison médicale Jeanne Garnier"), f.unitID("USP Forcilles")
	care, presc := f.as(careTeam), f.as(prescriber)
	doc, gdoc, fdoc := f.as(perineDoctor), f.as(garnierDoc), f.as(forcilles)

	type step struct {
		name string
		want int
		run  func() error
	}
	var (
		id, id2  uuid.UUID
		sent     *ent.AdmissionRequest
		dP, dG   uuid.UUID
		dF, dWdr uuid.UUID
	)
	section := func(kind enums.SectionKind, id *uuid.UUID, p Patch) func() error {
		return func() error { _, err := f.svc.SaveSection(care, *id, kind, p, nil); return err }
	}
	steps := []step{
		{"Create", 10, func() error { id = f.create(care, "Martin"); return nil }},
		{"SaveSection medical (in progress)", 7, section(enums.SectionKindMedical, &id, Patch{"diagnosis": "Cancer", "pps_score": 40})},
		{"SaveSection medical (complete)", 7, section(enums.SectionKindMedical, &id, Patch{"prognosis": enums.PrognosisWeeks,
			"patient_informed_of_diagnosis": enums.InformationLevelYes, "patient_agrees_to_usp": true})},
		{"SaveSection care project", 7, section(enums.SectionKindCareProject, &id, careComplete)},
		{"SaveSection admin social", 7, section(enums.SectionKindAdminSocial, &id, adminComplete)},
		{"ValidateMedical", 7, func() error { _, err := f.svc.ValidateMedical(presc, id); return err }},
		{"Send (3 units)", 11, func() error {
			var err error
			sent, err = f.svc.Send(presc, id, []uuid.UUID{perine, garnier, forc})
			return err
		}},
		{"(dispatch ids)", -1, func() error {
			dP, dG, dF = f.dispatchTo(sent, perine), f.dispatchTo(sent, garnier), f.dispatchTo(sent, forc)
			return nil
		}},
		{"Open", 7, func() error { _, err := f.svc.Open(doc, dP); return err }},
		{"Open (again)", 6, func() error { _, err := f.svc.Open(doc, dP); return err }},
		{"AskInformation", 7, func() error { _, err := f.svc.AskInformation(doc, dP, "Sonde ?"); return err }},
		{"SaveSection medical (validated, sent, 1 info request)", 10, section(enums.SectionKindMedical, &id, Patch{"history": "HTA"})},
		{"PostMessage", 6, func() error { _, err := f.svc.PostMessage(presc, dP, "Précision"); return err }},
		// Sent: the request's dispatches are read (a closed one may have
		// received the section as it was: keepReceived).
		{"ValidateMedical (sent)", 8, func() error { _, err := f.svc.ValidateMedical(presc, id); return err }},
		{"Answer accept", 6, func() error {
			_, err := f.svc.Answer(doc, dP, AnswerInput{Decision: enums.AnswerDecisionAccept})
			return err
		}},
		{"Answer refuse", 6, func() error {
			r := enums.RefusalReasonNoBedInTime
			_, err := f.svc.Answer(gdoc, dG, AnswerInput{Decision: enums.AnswerDecisionRefuse, RefusalReason: &r})
			return err
		}},
		{"Answer accept with reservation", 6, func() error {
			c := "sous réserve"
			_, err := f.svc.Answer(fdoc, dF, AnswerInput{Decision: enums.AnswerDecisionAcceptWithReservation, Comment: &c})
			return err
		}},
		{"Confirm (1 other withdrawn)", 9, func() error { _, err := f.svc.Confirm(presc, dP); return err }},
		{"RecordAdmission", 7, func() error { _, err := f.svc.RecordAdmission(doc, dP, time.Now().UTC()); return err }},
		{"(second request ready)", -1, func() error { id2 = f.ready("Petit"); return nil }},
		{"Send (2 units)", 11, func() error {
			var err error
			sent, err = f.svc.Send(presc, id2, []uuid.UUID{perine, garnier})
			return err
		}},
		{"(dispatch id)", -1, func() error { dWdr = f.dispatchTo(sent, garnier); return nil }},
		{"Withdraw", 7, func() error { _, err := f.svc.Withdraw(presc, dWdr); return err }},
		{"Cancel (1 open dispatch)", 7, func() error {
			_, err := f.svc.Cancel(presc, id2, enums.CancellationReasonPatientDeceased, nil)
			return err
		}},
	}
	var report strings.Builder
	for _, s := range steps {
		var err error
		stmts := f.count(func() { err = s.run() })
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.want < 0 {
			continue
		}
		fmt.Fprintf(&report, "\n%-55s %3d", s.name, len(stmts))
		if len(stmts) != s.want {
			t.Errorf("%s: %d statements, want %d:%s", s.name, len(stmts), s.want, short(stmts))
		}
	}
	t.Log(report.String())
}
