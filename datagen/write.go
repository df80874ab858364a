package datagen

import (
	"context"
	"fmt"

	"passerelle/ent"
	"passerelle/ent/referencecounter"
)

// maxParams keeps one INSERT under SQLite's 32 766 bound parameters (and
// PostgreSQL's 65 535): rows per statement = maxParams / columns.
const maxParams = 30_000

// chunks calls exec on consecutive slices of at most maxParams/cols rows.
func chunks[T any](rows []T, cols int, exec func([]T) error) error {
	size := max(1, maxParams/cols)
	for len(rows) > 0 {
		n := min(size, len(rows))
		if err := exec(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// inTx runs fn in a transaction.
func inTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (g *generator) writeDirectory(ctx context.Context, client *ent.Client) error {
	d := g.dir
	err := inTx(ctx, client, func(tx *ent.Tx) error {
		if err := chunks(d.structures, 13, func(rows []*ent.Structure) error {
			b := make([]*ent.StructureCreate, len(rows))
			for i, s := range rows {
				b[i] = tx.Structure.Create().SetID(s.ID).SetCreatedAt(s.CreatedAt).SetUpdatedAt(s.UpdatedAt).
					SetFiness(s.Finess).SetName(s.Name).SetKind(s.Kind).SetDepartment(s.Department).
					SetAddress(s.Address).SetPostalCode(s.PostalCode).SetCity(s.City).SetPhone(s.Phone)
			}
			return tx.Structure.CreateBulk(b...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("structures: %w", err)
		}
		if err := chunks(d.units, 14, func(rows []*ent.Unit) error {
			b := make([]*ent.UnitCreate, len(rows))
			for i, u := range rows {
				b[i] = tx.Unit.Create().SetID(u.ID).SetCreatedAt(u.CreatedAt).SetUpdatedAt(u.UpdatedAt).
					SetStructureID(u.StructureID).SetName(u.Name).SetKind(u.Kind).SetNillableCapacity(u.Capacity).
					SetNillableAvailableBeds(u.AvailableBeds).SetNillableAvailableBedsUpdatedAt(u.AvailableBedsUpdatedAt).
					SetAcceptingRequests(u.AcceptingRequests).SetAdmissionCriteria(u.AdmissionCriteria).
					SetAdmissionHours(u.AdmissionHours)
			}
			return tx.Unit.CreateBulk(b...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("units: %w", err)
		}
		if err := chunks(d.users, 16, func(rows []*ent.User) error {
			b := make([]*ent.UserCreate, len(rows))
			for i, u := range rows {
				b[i] = tx.User.Create().SetID(u.ID).SetCreatedAt(u.CreatedAt).SetUpdatedAt(u.UpdatedAt).
					SetEmail(u.Email).SetFirstName(u.FirstName).SetLastName(u.LastName).SetProfession(u.Profession).
					// Synthetic people, like the demo's: the data set is a
					// demo world (serve --demo accepts it; sign-in only in
					// demo mode).
					SetDemo(true)
			}
			return tx.User.CreateBulk(b...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("users: %w", err)
		}
		if err := chunks(d.habilitations, 13, func(rows []*ent.Habilitation) error {
			b := make([]*ent.HabilitationCreate, len(rows))
			for i, h := range rows {
				b[i] = tx.Habilitation.Create().SetID(h.ID).SetCreatedAt(h.CreatedAt).SetUpdatedAt(h.UpdatedAt).
					SetUserID(h.UserID).SetStructureID(h.StructureID).SetNillableUnitID(h.UnitID).
					SetProfile(h.Profile).SetValidFrom(h.ValidFrom).SetValidUntil(h.ValidUntil)
			}
			return tx.Habilitation.CreateBulk(b...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("habilitations: %w", err)
		}
		return nil
	})
	if err == nil && g.cfg.Rows != nil {
		g.cfg.Rows.Add(int64(len(d.structures) + len(d.units) + len(d.users) + len(d.habilitations)))
	}
	return err
}

// writeBatch inserts a batch's rows in one transaction, parents first.
func (g *generator) writeBatch(ctx context.Context, client *ent.Client, b *batch) error {
	return inTx(ctx, client, func(tx *ent.Tx) error {
		if err := chunks(b.patients, 10, func(rows []*ent.Patient) error {
			bs := make([]*ent.PatientCreate, len(rows))
			for i, p := range rows {
				bs[i] = tx.Patient.Create().SetID(p.ID).SetCreatedAt(p.CreatedAt).SetUpdatedAt(p.UpdatedAt).
					SetBirthName(p.BirthName).SetNillableUsedName(p.UsedName).SetFirstName(p.FirstName).
					SetBirthDate(p.BirthDate).SetNillableBirthPlace(p.BirthPlace).SetSex(p.Sex).SetNillableIns(p.Ins)
			}
			return tx.Patient.CreateBulk(bs...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("patients: %w", err)
		}
		if err := chunks(b.requests, 20, func(rows []*ent.AdmissionRequest) error {
			bs := make([]*ent.AdmissionRequestCreate, len(rows))
			for i, r := range rows {
				bs[i] = tx.AdmissionRequest.Create().SetID(r.ID).SetCreatedAt(r.CreatedAt).SetUpdatedAt(r.UpdatedAt).
					SetReference(r.Reference).SetOriginStructureID(r.OriginStructureID).SetNillableOriginUnitID(r.OriginUnitID).
					SetCreatedByID(r.CreatedByID).SetPatientID(r.PatientID).SetStatus(r.Status).SetUrgency(r.Urgency).
					SetNillableDesiredAdmissionDate(r.DesiredAdmissionDate).SetVersion(r.Version).
					SetNillableSentAt(r.SentAt).SetNillableConfirmedAt(r.ConfirmedAt).SetNillableAdmittedAt(r.AdmittedAt).
					SetNillableCancelledAt(r.CancelledAt).SetNillableCancellationReason(r.CancellationReason).
					SetNillableCancellationComment(r.CancellationComment).SetNillableArchivedAt(r.ArchivedAt).
					SetNillableDuplicateKey(r.DuplicateKey)
			}
			return tx.AdmissionRequest.CreateBulk(bs...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("requests: %w", err)
		}
		if err := chunks(b.medical, 47, func(rows []*ent.MedicalSection) error {
			bs := make([]*ent.MedicalSectionCreate, len(rows))
			for i, m := range rows {
				c := tx.MedicalSection.Create().SetID(m.ID).SetCreatedAt(m.CreatedAt).SetUpdatedAt(m.UpdatedAt).
					SetRequestID(m.RequestID).SetState(m.State).SetNillableLastEditedAt(m.LastEditedAt).
					SetNillableLastEditedByID(m.LastEditedByID).SetNillableDiagnosis(m.Diagnosis).
					SetNillableHistory(m.History).SetNillableCurrentTreatments(m.CurrentTreatments).
					SetNillableAllergies(m.Allergies).SetNillablePpsScore(m.PpsScore).SetNillablePrognosis(m.Prognosis).
					SetNillablePain(m.Pain).SetNillableDyspnea(m.Dyspnea).SetNillableNausea(m.Nausea).
					SetNillableOcclusion(m.Occlusion).SetNillableConfusionAgitation(m.ConfusionAgitation).
					SetNillableAnxiety(m.Anxiety).SetNillableHaemorrhagicRisk(m.HaemorrhagicRisk).
					SetNillableSedation(m.Sedation).SetNillablePatientInformedOfDiagnosis(m.PatientInformedOfDiagnosis).
					SetNillablePatientInformedOfPrognosis(m.PatientInformedOfPrognosis).
					SetNillablePatientInformedOfUsp(m.PatientInformedOfUsp).SetNillablePatientAgreesToUsp(m.PatientAgreesToUsp).
					SetNillablePatientWishes(m.PatientWishes).SetNillableAdvanceDirectives(m.AdvanceDirectives).
					SetNillableTrustedPersonDesignated(m.TrustedPersonDesignated).
					SetNillableIsolationRequired(m.IsolationRequired).SetNillablePiccLine(m.PiccLine).
					SetNillablePcaPump(m.PcaPump).SetNillableStoma(m.Stoma).SetNillableOxygen(m.Oxygen).
					SetNillableTracheostomy(m.Tracheostomy).SetNillableValidatedAt(m.ValidatedAt).
					SetNillableValidatedByID(m.ValidatedByID)
				if m.Pallia10 != nil {
					c.SetPallia10(m.Pallia10)
				}
				bs[i] = c
			}
			return tx.MedicalSection.CreateBulk(bs...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("medical sections: %w", err)
		}
		if err := chunks(b.care, 25, func(rows []*ent.CareProjectSection) error {
			bs := make([]*ent.CareProjectSectionCreate, len(rows))
			for i, c := range rows {
				bs[i] = tx.CareProjectSection.Create().SetID(c.ID).SetCreatedAt(c.CreatedAt).SetUpdatedAt(c.UpdatedAt).
					SetRequestID(c.RequestID).SetState(c.State).SetNillableLastEditedAt(c.LastEditedAt).
					SetNillableLastEditedByID(c.LastEditedByID).SetNillableDependence(c.Dependence).
					SetNillableDependenceWashing(c.DependenceWashing).SetNillableDependenceMobility(c.DependenceMobility).
					SetNillableDependenceContinence(c.DependenceContinence).SetNillableDependenceEating(c.DependenceEating).
					SetNillableNutritionRoute(c.NutritionRoute).SetNillableEmspInvolved(c.EmspInvolved).
					SetNillableHadInvolved(c.HadInvolved).SetNillableStayGoal(c.StayGoal).
					SetNillableLifeProject(c.LifeProject).SetNillableReturnHomePossible(c.ReturnHomePossible)
			}
			return tx.CareProjectSection.CreateBulk(bs...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("care sections: %w", err)
		}
		if err := chunks(b.admin, 18, func(rows []*ent.AdminSocialSection) error {
			bs := make([]*ent.AdminSocialSectionCreate, len(rows))
			for i, a := range rows {
				bs[i] = tx.AdminSocialSection.Create().SetID(a.ID).SetCreatedAt(a.CreatedAt).SetUpdatedAt(a.UpdatedAt).
					SetRequestID(a.RequestID).SetState(a.State).SetNillableLastEditedAt(a.LastEditedAt).
					SetNillableLastEditedByID(a.LastEditedByID).SetNillableAddress(a.Address).
					SetNillablePostalCode(a.PostalCode).SetNillableCity(a.City).SetNillableHealthCover(a.HealthCover).
					SetNillableLivingSituation(a.LivingSituation).SetNillablePersonToNotify(a.PersonToNotify)
			}
			return tx.AdminSocialSection.CreateBulk(bs...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("admin sections: %w", err)
		}
		if err := chunks(b.dispatches, 21, func(rows []*ent.Dispatch) error {
			bs := make([]*ent.DispatchCreate, len(rows))
			for i, d := range rows {
				bs[i] = tx.Dispatch.Create().SetID(d.ID).SetCreatedAt(d.CreatedAt).SetUpdatedAt(d.UpdatedAt).
					SetRequestID(d.RequestID).SetUnitID(d.UnitID).SetStatus(d.Status).SetUrgency(d.Urgency).
					SetSentAt(d.SentAt).SetNillableReadAt(d.ReadAt).SetNillableAnsweredAt(d.AnsweredAt).
					SetNillableRefusalReason(d.RefusalReason).SetNillableAnswerComment(d.AnswerComment).
					SetNillableProposedAdmissionDate(d.ProposedAdmissionDate).
					SetNillableInformationQuestion(d.InformationQuestion).SetNillableConfirmedAt(d.ConfirmedAt).
					SetNillableWithdrawnAt(d.WithdrawnAt).SetNillableClosedAt(d.ClosedAt).
					SetNillableAdmittedAt(d.AdmittedAt).SetNillableNotAdmittedReason(d.NotAdmittedReason).
					SetUpdatedSinceRead(false)
			}
			return tx.Dispatch.CreateBulk(bs...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("dispatches: %w", err)
		}
		if err := chunks(b.messages, 6, func(rows []*ent.Message) error {
			bs := make([]*ent.MessageCreate, len(rows))
			for i, m := range rows {
				bs[i] = tx.Message.Create().SetID(m.ID).SetDispatchID(m.DispatchID).SetAuthorID(m.AuthorID).
					SetFromReceiver(m.FromReceiver).SetBody(m.Body).SetCreatedAt(m.CreatedAt)
			}
			return tx.Message.CreateBulk(bs...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		if err := chunks(b.events, 10, func(rows []*ent.Event) error {
			bs := make([]*ent.EventCreate, len(rows))
			for i, e := range rows {
				bs[i] = tx.Event.Create().SetType(e.Type).SetOccurredAt(e.OccurredAt).SetRequestID(e.RequestID).
					SetNillableDispatchID(e.DispatchID).SetNillableUnitID(e.UnitID).SetNillableActorID(e.ActorID).
					SetFromStatus(e.FromStatus).SetToStatus(e.ToStatus).SetReason(e.Reason).SetNillableSection(e.Section)
			}
			return tx.Event.CreateBulk(bs...).Exec(ctx)
		}); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		return nil
	})
}

// raiseCounters sets each year's reference counter to at least the last
// number generated, so that requests created through the API continue the
// sequence.
func (g *generator) raiseCounters(ctx context.Context, client *ent.Client) error {
	last := map[int]int{}
	for i, t := range g.times {
		_ = i
		last[t.Year()]++
	}
	return inTx(ctx, client, func(tx *ent.Tx) error {
		for year, n := range last {
			c, err := tx.ReferenceCounter.Query().Where(referencecounter.ID(year)).Only(ctx)
			switch {
			case ent.IsNotFound(err):
				if err := tx.ReferenceCounter.Create().SetID(year).SetLast(n).Exec(ctx); err != nil {
					return err
				}
			case err != nil:
				return err
			case c.Last < n:
				if err := tx.ReferenceCounter.UpdateOneID(year).SetLast(n).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
