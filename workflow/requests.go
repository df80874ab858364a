package workflow

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	entgo "entgo.io/ent"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/adminsocialsection"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/careprojectsection"
	"passerelle/ent/dispatch"
	"passerelle/ent/medicalsection"
	"passerelle/ent/referencecounter"
	"passerelle/ent/unit"
	"passerelle/enums"
	"passerelle/identity"
	"passerelle/viewer"
)

// PatientInput is the identity given at creation.
type PatientInput struct {
	BirthName, FirstName string
	UsedName, BirthPlace *string
	BirthDate            time.Time
	Sex                  enums.Sex
	INS                  *string
}

// CreateInput creates a request.
type CreateInput struct {
	OriginStructureID    uuid.UUID
	OriginUnitID         *uuid.UUID
	Urgency              enums.Urgency
	DesiredAdmissionDate *time.Time
	Patient              PatientInput
}

// Checked is a request with the outcome of its duplicate check (Create, and
// Correct when the identity changed): whether another active request has a
// patient of the same identity, never which.
type Checked struct {
	Request          *ent.AdmissionRequest
	DuplicateWarning bool
}

func today(now time.Time) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// duplicateKey folds the four identity fields compared for duplicates; empty
// when one is missing (no check then).
func duplicateKey(p PatientInput) string {
	bn, fn := identity.FoldName(p.BirthName), identity.FoldName(p.FirstName)
	if bn == "" || fn == "" || p.BirthDate.IsZero() || p.Sex == "" {
		return ""
	}
	return strings.Join([]string{bn, fn, p.BirthDate.Format(time.DateOnly), string(p.Sex)}, "|")
}

func (p *PatientInput) validate(now time.Time) error {
	p.BirthName, p.FirstName = strings.TrimSpace(p.BirthName), strings.TrimSpace(p.FirstName)
	switch {
	case p.BirthName == "":
		return apperr.BadInput("input.patient.birthName", "the birth name is required")
	case p.FirstName == "":
		return apperr.BadInput("input.patient.firstName", "the first name is required")
	}
	if err := checkBirthDate(p.BirthDate, now); err != nil {
		return err
	}
	if p.INS != nil {
		n, err := checkINS(*p.INS)
		if err != nil {
			return err
		}
		p.INS = &n
	}
	return nil
}

// checkBirthDate: not in the future, not before 1890.
func checkBirthDate(d, now time.Time) error {
	switch {
	case d.After(today(now)):
		return apperr.BadInput("input.patient.birthDate", "the birth date is in the future")
	case d.Before(time.Date(1890, 1, 1, 0, 0, 0, 0, time.UTC)):
		return apperr.BadInput("input.patient.birthDate", "the birth date is too far in the past")
	}
	return nil
}

// checkINS validates an INS/NIR and returns it normalized.
func checkINS(ins string) (string, error) {
	if err := identity.ValidateINS(ins); err != nil {
		return "", identity.RenameField(err, "input.patient.ins")
	}
	return identity.NormalizeINS(ins), nil
}

// Create creates a DRAFT request with its patient and three empty sections.
func (s *Service) Create(ctx context.Context, in CreateInput) (*Checked, error) {
	var out Checked
	err := s.run(ctx, func(o *op) error {
		if err := in.Patient.validate(o.now); err != nil {
			return err
		}
		if in.DesiredAdmissionDate != nil && in.DesiredAdmissionDate.Before(today(o.now)) {
			return apperr.BadInput("input.desiredAdmissionDate", "the desired admission date is in the past")
		}
		if !in.Urgency.IsValid() {
			return apperr.BadInput("input.urgency", "unknown urgency")
		}
		// A structure the viewer holds a habilitation on exists (the session
		// statement joined it): only another needs looking up.
		held := slices.ContainsFunc(o.v.Habilitations, func(h viewer.Habilitation) bool {
			return h.StructureID == in.OriginStructureID
		})
		if !held {
			if _, err := o.tx.Structure.Get(o.ctx, in.OriginStructureID); err != nil {
				return wrapNotFound(err, "structure")
			}
		}
		if in.OriginUnitID != nil {
			u, err := o.tx.Unit.Get(o.ctx, *in.OriginUnitID)
			if err != nil {
				return wrapNotFound(err, "unit")
			}
			if u.StructureID != in.OriginStructureID {
				return apperr.BadInput("input.originUnitId", "the unit does not belong to the origin structure")
			}
		}
		if !authz.CanCreateRequestFor(o.v, in.OriginStructureID, in.OriginUnitID) {
			return forbidden("create requests for this structure")
		}
		ref, err := o.nextReference()
		if err != nil {
			return err
		}
		p := in.Patient
		pat, err := o.tx.Patient.Create().SetBirthName(p.BirthName).SetNillableUsedName(p.UsedName).
			SetFirstName(p.FirstName).SetBirthDate(p.BirthDate).SetNillableBirthPlace(p.BirthPlace).
			SetSex(p.Sex).SetNillableIns(p.INS).Save(o.ctx)
		if err != nil {
			return apperr.InputField(err, "input.patient.")
		}
		key := duplicateKey(p)
		c := o.tx.AdmissionRequest.Create().SetReference(ref).SetOriginStructureID(in.OriginStructureID).
			SetNillableOriginUnitID(in.OriginUnitID).SetCreatedByID(o.v.UserID).SetPatientID(pat.ID).
			SetUrgency(in.Urgency).SetNillableDesiredAdmissionDate(in.DesiredAdmissionDate).
			SetCreatedAt(o.now).SetUpdatedAt(o.now)
		if key != "" {
			c.SetDuplicateKey(key)
		}
		req, err := c.Save(o.ctx)
		if err != nil {
			return err
		}
		if err := o.tx.MedicalSection.Create().SetRequestID(req.ID).Exec(o.ctx); err != nil {
			return err
		}
		if err := o.tx.CareProjectSection.Create().SetRequestID(req.ID).Exec(o.ctx); err != nil {
			return err
		}
		if err := o.tx.AdminSocialSection.Create().SetRequestID(req.ID).Exec(o.ctx); err != nil {
			return err
		}
		if out.DuplicateWarning, err = o.duplicated(key, req.ID); err != nil {
			return err
		}
		out.Request = req
		return o.record(eventSpec{typ: enums.EventTypeRequestCreated, request: req.ID,
			to: string(enums.RequestStatusDraft)})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// duplicated reports whether an active request other than self has the
// duplicate key (false for an empty key: an identity missing one of its
// four fields is not checked). Checked as the system over every active
// request, but only the fact is returned: the other request is never
// disclosed.
func (o *op) duplicated(key string, self uuid.UUID) (bool, error) {
	if key == "" {
		return false, nil
	}
	return o.tx.AdmissionRequest.Query().Where(
		admissionrequest.DuplicateKey(key), admissionrequest.IDNEQ(self),
		admissionrequest.StatusNotIn(enums.RequestStatusArchived, enums.RequestStatusCancelled),
	).Exist(viewer.System(o.ctx))
}

// nextReference numbers the request within its year: USP-2026-000123.
func (o *op) nextReference() (string, error) {
	year := o.now.Year()
	// One statement (the counter's upsert returns its new value): ent's
	// upsert returns only the id, and reading the counter back cost a second.
	q, args := entsql.Dialect(o.dialect).Insert(referencecounter.Table).
		Columns(referencecounter.FieldID, referencecounter.FieldLast).Values(year, 1).
		OnConflict(entsql.ConflictColumns(referencecounter.FieldID), entsql.ResolveWith(func(u *entsql.UpdateSet) {
			u.Add(referencecounter.FieldLast, 1)
		})).
		Returning(referencecounter.FieldLast).Query()
	rows, err := o.tx.QueryContext(o.ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var last int
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("workflow: the reference counter returned no row")
	}
	if err := rows.Scan(&last); err != nil {
		return "", err
	}
	return fmt.Sprintf("USP-%d-%06d", year, last), rows.Close()
}

func wrapNotFound(err error, what string) error {
	if ent.IsNotFound(err) {
		return apperr.NotFoundError(what)
	}
	return err
}

// Patch is a partial section update: ent field name → value; a nil value
// clears the field. Absent fields are unchanged.
type Patch map[string]any

// sectionRules says, per section, which profile action writes it and which
// fields make it COMPLETE.
var sectionRules = map[enums.SectionKind]struct {
	write    authz.Action
	required []string
}{
	enums.SectionKindMedical: {authz.WriteMedical, []string{
		medicalsection.FieldDiagnosis, medicalsection.FieldPpsScore, medicalsection.FieldPrognosis,
		medicalsection.FieldPatientInformedOfDiagnosis, medicalsection.FieldPatientAgreesToUsp}},
	enums.SectionKindCareProject: {authz.WriteCareProject, []string{careprojectsection.FieldStayGoal}},
	enums.SectionKindAdminSocial: {authz.WriteAdminSocial, []string{
		adminsocialsection.FieldAddress, adminsocialsection.FieldPostalCode, adminsocialsection.FieldCity}},
}

// metaFields are section columns that are not content.
var metaFields = []string{"id", "request_id", "state", "created_at", "updated_at", "last_edited_at",
	"last_edited_by_id", "validated_at", "validated_by_id", "validation_removed_at", "validation_removed_by_id", "edges"}

func (p Patch) validate(kind enums.SectionKind) error {
	if kind != enums.SectionKindMedical {
		return nil
	}
	if v, ok := p[medicalsection.FieldPpsScore]; ok && v != nil {
		n, _ := v.(int)
		if n < 0 || n > 100 || n%10 != 0 {
			return apperr.BadInput("input.ppsScore", "the PPS score goes from 0 to 100 in steps of 10")
		}
	}
	if v, ok := p[medicalsection.FieldPallia10]; ok && v != nil {
		if a, _ := v.([]bool); len(a) != 10 {
			return apperr.BadInput("input.pallia10", "PALLIA-10 needs exactly 10 answers")
		}
	}
	return nil
}

// SaveSection applies a partial update to one section. expectedVersion, when
// given, must match the request's version.
func (s *Service) SaveSection(ctx context.Context, requestID uuid.UUID, kind enums.SectionKind, patch Patch, expectedVersion *int) (*ent.AdmissionRequest, error) {
	rules, ok := sectionRules[kind]
	if !ok {
		return nil, apperr.BadInput("kind", "unknown section")
	}
	if err := patch.validate(kind); err != nil {
		return nil, err
	}
	return s.onRequest(ctx, requestID, func(o *op) error {
		req, can, err := o.loadRequest(requestID)
		if err != nil {
			return err
		}
		if !can[rules.write] {
			return forbidden("write this section")
		}
		if expectedVersion != nil && *expectedVersion != req.Version {
			return apperr.New(apperr.Conflict, "the request changed since you loaded it (version %d, now %d)",
				*expectedVersion, req.Version).With("currentVersion", req.Version)
		}
		if _, err := o.stepRequest(req, ActEdit, nil); err != nil {
			return err
		}
		ds, err := o.dispatchesOf(req)
		if err != nil {
			return err
		}
		if err := o.applyPatch(req, kind, patch, rules.required, ds); err != nil {
			return err
		}
		k := kind
		if err := o.record(eventSpec{typ: enums.EventTypeSectionUpdated, request: req.ID, section: &k}); err != nil {
			return err
		}
		return o.markUpdated(req, ds)
	})
}

// applyPatch writes the fields and the section's new state in one UPDATE.
// The state is computed from the section row as it stands (read once, after
// stepRequest: the request's conditional update serializes edits of one
// request, so no other edit of this section can slip in between) overlaid
// with the patch. An edit of a validated medical section removes the
// validation (who and when are kept). ds are the request's dispatches
// (dispatchesOf).
func (o *op) applyPatch(req *ent.AdmissionRequest, kind enums.SectionKind, patch Patch, required []string, ds []*ent.Dispatch) error {
	var (
		w, old   entgo.Mutation // the write, and the row as read (its OldField)
		columns  []string
		prev     enums.SectionState
		setState func(enums.SectionState)
		exec     func(context.Context) error // runs w
		row      any                         // the row as read, then as written (mirror)
		since    time.Time                   // the row's updated_at as read
		attach   func()                      // to req, for the operation's answer
	)
	switch kind {
	case enums.SectionKindMedical:
		r, err := o.tx.MedicalSection.Query().Where(medicalsection.RequestID(req.ID)).Only(o.ctx)
		if err != nil {
			return err
		}
		u := o.tx.MedicalSection.Update().Where(medicalsection.ID(r.ID))
		w, old, columns, prev = u.Mutation(), o.tx.MedicalSection.UpdateOne(r).Mutation(), medicalsection.Columns, r.State
		setState = func(s enums.SectionState) {
			u.SetState(s)
			if prev == enums.SectionStateValidated {
				u.ClearValidatedAt().ClearValidatedByID().SetValidationRemovedAt(o.now).SetValidationRemovedByID(o.v.UserID)
			}
		}
		exec, row, since, attach = u.Exec, r, r.UpdatedAt, func() { req.Edges.Medical = r }
	case enums.SectionKindCareProject:
		r, err := o.tx.CareProjectSection.Query().Where(careprojectsection.RequestID(req.ID)).Only(o.ctx)
		if err != nil {
			return err
		}
		u := o.tx.CareProjectSection.Update().Where(careprojectsection.ID(r.ID))
		w, old, columns, prev = u.Mutation(), o.tx.CareProjectSection.UpdateOne(r).Mutation(), careprojectsection.Columns, r.State
		setState = func(s enums.SectionState) { u.SetState(s) }
		exec, row, since, attach = u.Exec, r, r.UpdatedAt, func() { req.Edges.CareProject = r }
	default:
		r, err := o.tx.AdminSocialSection.Query().Where(adminsocialsection.RequestID(req.ID)).Only(o.ctx)
		if err != nil {
			return err
		}
		u := o.tx.AdminSocialSection.Update().Where(adminsocialsection.ID(r.ID))
		w, old, columns, prev = u.Mutation(), o.tx.AdminSocialSection.UpdateOne(r).Mutation(), adminsocialsection.Columns, r.State
		setState = func(s enums.SectionState) { u.SetState(s) }
		exec, row, since, attach = u.Exec, r, r.UpdatedAt, func() { req.Edges.AdminSocial = r }
	}
	if err := apply(w, patch); err != nil {
		return fmt.Errorf("section %w", err)
	}
	// updated_at too: ent's default would take the clock again, with
	// nanoseconds PostgreSQL does not keep (the row is answered as written).
	if err := w.SetField("updated_at", o.now); err != nil {
		return err
	}
	if err := w.SetField("last_edited_at", o.now); err != nil {
		return err
	}
	if err := w.SetField("last_edited_by_id", o.v.UserID); err != nil {
		return err
	}
	state, err := stateAfter(o.ctx, w, old, columns, required)
	if err != nil {
		return err
	}
	if state != prev {
		setState(state)
	}
	if err := o.keepReceived(req, kind, row, since, ds); err != nil {
		return err
	}
	if err := exec(o.ctx); err != nil {
		return apperr.InputField(err, "input.")
	}
	attach()
	return mirror(row, w)
}

// stateAfter computes EMPTY / IN_PROGRESS / COMPLETE for a section once the
// write w is applied to the row old holds: a field is what w sets or clears,
// else what the row has. Any edit leaves VALIDATED.
func stateAfter(ctx context.Context, w, old entgo.Mutation, columns, required []string) (enums.SectionState, error) {
	filled := func(name string) (bool, error) {
		if w.FieldCleared(name) {
			return false, nil
		}
		v, ok := w.Field(name)
		if !ok {
			var err error
			if v, err = old.OldField(ctx, name); err != nil {
				return false, err
			}
		}
		return hasValue(v), nil
	}
	complete := true
	for _, f := range required {
		ok, err := filled(f)
		if err != nil {
			return "", err
		}
		complete = complete && ok
	}
	if complete {
		return enums.SectionStateComplete, nil
	}
	for _, name := range columns {
		if slices.Contains(metaFields, name) {
			continue
		}
		ok, err := filled(name)
		if err != nil {
			return "", err
		}
		if ok {
			return enums.SectionStateInProgress, nil
		}
	}
	return enums.SectionStateEmpty, nil
}

// hasValue says whether a section field holds something: not NULL, and not
// an empty text or list. (Every content column is nullable, so a stored
// false or 0 counts as an answer.)
func hasValue(v any) bool {
	r := reflect.ValueOf(v)
	for r.Kind() == reflect.Pointer || r.Kind() == reflect.Interface {
		if r.IsNil() {
			return false
		}
		r = r.Elem()
	}
	switch r.Kind() {
	case reflect.Invalid:
		return false
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return r.Len() > 0
	}
	return true
}

// dispatchesOf are the request's dispatches, none while it is a draft.
func (o *op) dispatchesOf(req *ent.AdmissionRequest) ([]*ent.Dispatch, error) {
	if req.Status == enums.RequestStatusDraft {
		return nil, nil
	}
	return o.tx.Dispatch.Query().Where(dispatch.RequestID(req.ID)).All(viewer.System(o.ctx))
}

// markUpdated: a change to a sent request marks every open (or confirmed)
// dispatch of ds, the request's dispatches, as updated since last read,
// tells its unit, and answers an information request (back to READ).
func (o *op) markUpdated(req *ent.AdmissionRequest, ds []*ent.Dispatch) error {
	// An information request is answered by its own conditional update; the
	// other dispatches are marked in one UPDATE.
	var rest []uuid.UUID
	for _, d := range ds {
		if d.Status != enums.DispatchStatusConfirmed && !slices.Contains(open, d.Status) {
			continue
		}
		from := d.Status
		if d.Status == enums.DispatchStatusInfoRequested {
			if _, err := o.stepDispatch(d, req.Status, ActReply, func(u *ent.DispatchUpdate) {
				u.SetUpdatedSinceRead(true)
			}); err != nil {
				return err
			}
		} else {
			rest = append(rest, d.ID)
		}
		if err := o.record(eventSpec{typ: enums.EventTypeRequestUpdated, request: req.ID, dispatch: d,
			from: string(from), to: string(d.Status)}); err != nil {
			return err
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return o.tx.Dispatch.Update().Where(dispatch.IDIn(rest...)).SetUpdatedSinceRead(true).Exec(o.ctx)
}

// ValidateMedical validates a COMPLETE medical section.
func (s *Service) ValidateMedical(ctx context.Context, requestID uuid.UUID) (*ent.AdmissionRequest, error) {
	return s.onRequest(ctx, requestID, func(o *op) error {
		req, can, err := o.loadRequest(requestID)
		if err != nil {
			return err
		}
		if !can[authz.ValidateMedical] {
			return forbidden("validate the medical section")
		}
		med, err := o.tx.MedicalSection.Query().Where(medicalsection.RequestID(req.ID)).Only(o.ctx)
		if err != nil {
			return err
		}
		if med.State != enums.SectionStateComplete {
			return apperr.ConflictStatus(med.State, "the medical section must be COMPLETE to be validated (it is %s)", med.State)
		}
		if _, err := o.stepRequest(req, ActValidate, nil); err != nil {
			return err
		}
		ds, err := o.dispatchesOf(req)
		if err != nil {
			return err
		}
		if err := o.keepReceived(req, enums.SectionKindMedical, med, med.UpdatedAt, ds); err != nil {
			return err
		}
		upd := o.tx.MedicalSection.Update().
			Where(medicalsection.ID(med.ID), medicalsection.StateEQ(enums.SectionStateComplete)).
			SetState(enums.SectionStateValidated).SetValidatedAt(o.now).SetValidatedByID(o.v.UserID).SetUpdatedAt(o.now)
		n, err := upd.Save(o.ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.New(apperr.Conflict, "the medical section changed meanwhile; reload and retry")
		}
		if err := mirror(med, upd.Mutation()); err != nil {
			return err
		}
		req.Edges.Medical = med
		kind := enums.SectionKindMedical
		return o.record(eventSpec{typ: enums.EventTypeMedicalValidated, request: req.ID, section: &kind,
			from: string(enums.SectionStateComplete), to: string(enums.SectionStateValidated)})
	})
}

// Send dispatches a request to USP units (rule 1): medical VALIDATED, the
// other sections COMPLETE, only accepting USP units, never twice to one.
func (s *Service) Send(ctx context.Context, requestID uuid.UUID, unitIDs []uuid.UUID) (*ent.AdmissionRequest, error) {
	if len(unitIDs) == 0 {
		return nil, apperr.BadInput("unitIds", "choose at least one unit")
	}
	if len(unitIDs) > 30 {
		return nil, apperr.BadInput("unitIds", "at most 30 units at once")
	}
	seen := map[uuid.UUID]bool{}
	for _, id := range unitIDs {
		if seen[id] {
			return nil, apperr.BadInput("unitIds", "a unit is listed twice")
		}
		seen[id] = true
	}
	return s.onRequest(ctx, requestID, func(o *op) error {
		req, can, err := o.loadRequest(requestID)
		if err != nil {
			return err
		}
		if !can[authz.SendRequest] {
			return forbidden("send requests")
		}
		if _, ok := requestStep(ActSend, req.Status); !ok {
			return apperr.ConflictStatus(req.Status, "a %s request cannot be sent", req.Status)
		}
		if err := o.checkSendable(req); err != nil {
			return err
		}
		// What the checks and the messages need, not the units' sheets.
		units, err := o.tx.Unit.Query().Where(unit.IDIn(unitIDs...)).
			Select(unit.FieldKind, unit.FieldAcceptingRequests, unit.FieldName).All(o.ctx)
		if err != nil {
			return err
		}
		if len(units) != len(unitIDs) {
			return apperr.NotFoundError("unit")
		}
		for _, u := range units {
			if u.Kind != enums.UnitKindUsp {
				return apperr.BadInput("unitIds", "%s is not a USP unit", u.Name)
			}
			if !u.AcceptingRequests {
				return apperr.ConflictStatus(enums.DispatchStatusPending, "%s does not accept requests at the moment", u.Name)
			}
		}
		already, err := o.tx.Dispatch.Query().
			Where(dispatch.RequestID(req.ID), dispatch.UnitIDIn(unitIDs...)).Exist(viewer.System(o.ctx))
		if err != nil {
			return err
		}
		if already {
			return apperr.New(apperr.Conflict, "the request was already sent to one of these units")
		}
		first := req.Status == enums.RequestStatusDraft
		from := req.Status
		if _, err := o.stepRequest(req, ActSend, func(u *ent.AdmissionRequestUpdate) {
			if first {
				u.SetSentAt(o.now)
			}
		}); err != nil {
			return err
		}
		creates := make([]*ent.DispatchCreate, len(units))
		for i, u := range units {
			creates[i] = o.tx.Dispatch.Create().SetRequestID(req.ID).SetUnitID(u.ID).SetUrgency(req.Urgency).
				SetSentAt(o.now).SetCreatedAt(o.now).SetUpdatedAt(o.now)
		}
		ds, err := o.tx.Dispatch.CreateBulk(creates...).Save(o.ctx)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := o.record(eventSpec{typ: enums.EventTypeRequestSent, request: req.ID, dispatch: d,
				from: string(from), to: string(enums.DispatchStatusPending)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkSendable enforces the section states of rule 1.
func (o *op) checkSendable(req *ent.AdmissionRequest) error {
	sys := viewer.System(o.ctx)
	// Only the states: the medical row alone has some sixty columns.
	med, err := o.tx.MedicalSection.Query().Where(medicalsection.RequestID(req.ID)).
		Select(medicalsection.FieldState).Only(sys)
	if err != nil {
		return err
	}
	care, err := o.tx.CareProjectSection.Query().Where(careprojectsection.RequestID(req.ID)).
		Select(careprojectsection.FieldState).Only(sys)
	if err != nil {
		return err
	}
	adm, err := o.tx.AdminSocialSection.Query().Where(adminsocialsection.RequestID(req.ID)).
		Select(adminsocialsection.FieldState).Only(sys)
	if err != nil {
		return err
	}
	switch {
	case med.State != enums.SectionStateValidated:
		return apperr.ConflictStatus(med.State, "the medical section must be VALIDATED before sending (it is %s)", med.State).
			With("section", string(enums.SectionKindMedical))
	case care.State != enums.SectionStateComplete:
		return apperr.ConflictStatus(care.State, "the care and project section must be COMPLETE before sending (it is %s)", care.State).
			With("section", string(enums.SectionKindCareProject))
	case adm.State != enums.SectionStateComplete:
		return apperr.ConflictStatus(adm.State, "the administrative and social section must be COMPLETE before sending (it is %s)", adm.State).
			With("section", string(enums.SectionKindAdminSocial))
	}
	return nil
}

// Cancel cancels a request and every open dispatch, telling every unit.
func (s *Service) Cancel(ctx context.Context, requestID uuid.UUID, reason enums.CancellationReason, comment *string) (*ent.AdmissionRequest, error) {
	if !reason.IsValid() {
		return nil, apperr.BadInput("reason", "unknown cancellation reason")
	}
	if reason == enums.CancellationReasonOther && (comment == nil || strings.TrimSpace(*comment) == "") {
		return nil, apperr.BadInput("comment", "a comment is required with the reason OTHER")
	}
	return s.onRequest(ctx, requestID, func(o *op) error {
		req, can, err := o.loadRequest(requestID)
		if err != nil {
			return err
		}
		if !can[authz.CancelRequest] {
			return forbidden("cancel requests")
		}
		from := req.Status
		if _, err := o.stepRequest(req, ActCancel, func(u *ent.AdmissionRequestUpdate) {
			u.SetCancelledAt(o.now).SetCancellationReason(reason).SetNillableCancellationComment(comment)
		}); err != nil {
			return err
		}
		ds, err := o.tx.Dispatch.Query().Where(dispatch.RequestID(req.ID)).All(viewer.System(o.ctx))
		if err != nil {
			return err
		}
		cancelled := 0
		for _, d := range ds {
			if _, ok := dispatchStep(ActCancel, d.Status, from); !ok {
				continue
			}
			prev := d.Status
			if _, err := o.stepDispatch(d, from, ActCancel, func(u *ent.DispatchUpdate) { u.SetClosedAt(o.now) }); err != nil {
				return err
			}
			cancelled++
			if err := o.record(eventSpec{typ: enums.EventTypeRequestCancelled, request: req.ID, dispatch: d,
				from: string(prev), to: string(d.Status), reason: string(reason)}); err != nil {
				return err
			}
		}
		if cancelled == 0 {
			return o.record(eventSpec{typ: enums.EventTypeRequestCancelled, request: req.ID,
				from: string(from), to: string(req.Status), reason: string(reason)})
		}
		return nil
	})
}
