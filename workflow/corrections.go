package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	entgo "entgo.io/ent"
	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/patientversion"
	"passerelle/enums"
)

// RequestChanges corrects a request after its creation: Request holds its
// own fields (urgency, desired_admission_date), Patient the patient's
// identity (birth_name, used_name, first_name, birth_date, birth_place,
// sex, ins). A key absent is unchanged; nil clears an optional field.
type RequestChanges struct {
	Request, Patient Patch
}

var (
	requestFields = []string{"urgency", "desired_admission_date"}
	patientFields = []string{"birth_name", "used_name", "first_name", "birth_date", "birth_place", "sex", "ins"}
	// required fields cannot be cleared.
	requiredFields = []string{"urgency", "birth_name", "first_name", "birth_date", "sex"}
)

// validate checks and normalizes the changes as Create checks a new
// request (trimmed names, a plausible birth date, a valid INS, a desired
// date not in the past); a field is named as the API names it.
func (c RequestChanges) validate(now time.Time) error {
	if len(c.Request) == 0 && len(c.Patient) == 0 {
		return apperr.BadInput("input", "nothing to change")
	}
	check := func(p Patch, allowed []string, prefix string) error {
		for name, value := range p {
			field := prefix + apperr.APIName(name)
			if !slices.Contains(allowed, name) {
				return apperr.BadInput(field, "not a field of this input")
			}
			if value == nil {
				if slices.Contains(requiredFields, name) {
					return apperr.BadInput(field, "this field cannot be removed")
				}
				continue
			}
			if s, ok := value.(string); ok {
				s = strings.TrimSpace(s)
				if s == "" && slices.Contains(requiredFields, name) {
					return apperr.BadInput(field, "this field cannot be empty")
				}
				if s == "" {
					p[name] = nil // an empty optional field is no value
					continue
				}
				p[name] = s
			}
		}
		return nil
	}
	if err := check(c.Request, requestFields, "input."); err != nil {
		return err
	}
	if err := check(c.Patient, patientFields, "input.patient."); err != nil {
		return err
	}
	if u, ok := c.Request["urgency"].(enums.Urgency); ok && !u.IsValid() {
		return apperr.BadInput("input.urgency", "unknown urgency")
	}
	if d, ok := c.Request["desired_admission_date"].(time.Time); ok && d.Before(today(now)) {
		return apperr.BadInput("input.desiredAdmissionDate", "the desired admission date is in the past")
	}
	if d, ok := c.Patient["birth_date"].(time.Time); ok {
		if err := checkBirthDate(d, now); err != nil {
			return err
		}
	}
	if s, ok := c.Patient["sex"].(enums.Sex); ok && !s.IsValid() {
		return apperr.BadInput("input.patient.sex", "unknown sex")
	}
	if ins, ok := c.Patient["ins"].(string); ok {
		n, err := checkINS(ins)
		if err != nil {
			return err
		}
		c.Patient["ins"] = n
	}
	return nil
}

// changed names the fields of p as enums.CorrectedField values (prefix
// "PATIENT_" for the identity), comma-separated in the enum's order: the
// reason of the change's event, which a client shows with the values'
// French labels (enumLabels). Names only, never values: events carry no
// patient data.
func changed(p Patch, prefix string) string {
	var names []string
	for _, f := range enums.CorrectedFieldValues {
		if _, ok := p[strings.ToLower(strings.TrimPrefix(string(f), prefix))]; ok && strings.HasPrefix(string(f), prefix) {
			names = append(names, string(f))
		}
	}
	return strings.Join(names, ",")
}

// Correct changes a request's urgency or wished date (the requesting side:
// those who may create its requests) and corrects its patient's identity
// (part of the administrative and social section: those who write it), in
// any state where the request is edited. The request's duplicate key
// follows the identity; a sent request's open dispatches are marked updated
// and their units told, as for a section (rule 6). Every unit that holds the
// request sees the corrected identity, a closed dispatch's included: a
// wrong identity must not outlive its correction anywhere
// (identity vigilance). Events name the fields changed, not their values;
// a field given the value it has is no change, and a correction with
// nothing to change writes nothing. A corrected identity is checked for
// duplicates as at creation.
func (s *Service) Correct(ctx context.Context, requestID uuid.UUID, c RequestChanges, expectedVersion *int) (*Checked, error) {
	var warning bool
	req, err := s.onRequest(ctx, requestID, func(o *op) error {
		if err := c.validate(o.now); err != nil {
			return err
		}
		req, can, err := o.loadRequest(requestID)
		if err != nil {
			return err
		}
		if len(c.Request) > 0 && !can[authz.CreateRequest] {
			return forbidden("change this request")
		}
		if len(c.Patient) > 0 && !can[authz.WriteAdminSocial] {
			return forbidden("correct the patient's identity")
		}
		if expectedVersion != nil && *expectedVersion != req.Version {
			return apperr.New(apperr.Conflict, "the request changed since you loaded it (version %d, now %d)",
				*expectedVersion, req.Version).With("currentVersion", req.Version)
		}
		// A field given the value it has is no change: it is neither
		// written, nor named by an event, nor kept as a version; a
		// correction left with nothing to change changes nothing.
		if err := dropUnchanged(o.ctx, o.tx.AdmissionRequest.UpdateOne(req).Mutation(), c.Request); err != nil {
			return err
		}
		var pat *ent.Patient
		if len(c.Patient) > 0 {
			if pat, err = o.tx.Patient.Get(o.ctx, req.PatientID); err != nil {
				return err
			}
			if err := dropUnchanged(o.ctx, o.tx.Patient.UpdateOne(pat).Mutation(), c.Patient); err != nil {
				return err
			}
		}
		if len(c.Request) == 0 && len(c.Patient) == 0 {
			if pat != nil {
				req.Edges.Patient = pat
			}
			return nil
		}
		key := req.DuplicateKey
		if len(c.Patient) > 0 {
			if err := o.keepIdentity(req, pat); err != nil {
				return err
			}
			upd := o.tx.Patient.UpdateOne(pat).SetUpdatedAt(o.now)
			if err := apply(upd.Mutation(), c.Patient); err != nil {
				return err
			}
			if err := upd.Exec(o.ctx); err != nil {
				return apperr.InputField(err, "input.patient.")
			}
			if err := mirror(pat, upd.Mutation()); err != nil {
				return err
			}
			k := duplicateKey(PatientInput{BirthName: pat.BirthName, FirstName: pat.FirstName, BirthDate: pat.BirthDate, Sex: pat.Sex})
			key = &k
			if k == "" {
				key = nil
			}
			if warning, err = o.duplicated(k, req.ID); err != nil {
				return err
			}
		}
		var setErr error // the transaction is rolled back with it
		if _, err := o.stepRequest(req, ActEdit, func(u *ent.AdmissionRequestUpdate) {
			setErr = apply(u.Mutation(), c.Request)
			if key == nil {
				u.ClearDuplicateKey()
			} else {
				u.SetDuplicateKey(*key)
			}
		}); err != nil || setErr != nil {
			return apperr.InputField(errors.Join(err, setErr), "input.")
		}
		if pat != nil {
			req.Edges.Patient = pat
		}
		if len(c.Request) > 0 {
			if err := o.record(eventSpec{typ: enums.EventTypeRequestUpdated, request: req.ID, reason: changed(c.Request, "")}); err != nil {
				return err
			}
		}
		if len(c.Patient) > 0 {
			k := enums.SectionKindAdminSocial
			if err := o.record(eventSpec{typ: enums.EventTypeSectionUpdated, request: req.ID, section: &k,
				reason: changed(c.Patient, "PATIENT_")}); err != nil {
				return err
			}
		}
		ds, err := o.dispatchesOf(req)
		if err != nil {
			return err
		}
		return o.markUpdated(req, ds)
	})
	if err != nil {
		return nil, err
	}
	return &Checked{Request: req, DuplicateWarning: warning}, nil
}

// keepIdentity saves the patient's identity as it stands, before a
// correction replaces it: the correction's trace (its event names the
// fields only).
func (o *op) keepIdentity(req *ent.AdmissionRequest, pat *ent.Patient) error {
	content, err := json.Marshal(pat)
	if err != nil {
		return fmt.Errorf("patient version: %w", err)
	}
	return o.tx.PatientVersion.Create().SetRequestID(req.ID).SetPatientID(pat.ID).
		SetSupersededAt(o.now).SetSupersededByID(o.v.UserID).SetContent(content).Exec(o.ctx)
}

// IdentityCorrection is the patient's identity as it stood before a
// correction, who corrected it and when.
type IdentityCorrection struct {
	At     time.Time
	By     uuid.UUID
	Before *ent.Patient
}

// IdentityCorrections are the request's identity corrections, most recent
// first, as the viewer may read them (rule.PatientVersionVisible: the
// requesting side; none for anyone else).
func (s *Service) IdentityCorrections(ctx context.Context, requestID uuid.UUID) ([]IdentityCorrection, error) {
	vs, err := s.client.PatientVersion.Query().Where(patientversion.RequestID(requestID)).
		Order(ent.Desc(patientversion.FieldSupersededAt), ent.Desc(patientversion.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]IdentityCorrection, len(vs))
	for i, v := range vs {
		p := new(ent.Patient)
		if err := json.Unmarshal(v.Content, p); err != nil {
			return nil, fmt.Errorf("patient version %s: %w", v.ID, err)
		}
		out[i] = IdentityCorrection{At: v.SupersededAt, By: v.SupersededByID, Before: p}
	}
	return out, nil
}

// dropUnchanged removes from p the fields that m's entity (an UpdateOne's,
// whose old values need no query) already holds with the value p gives:
// the same instant, the same string or enum, or no value for a field p
// clears.
func dropUnchanged(ctx context.Context, m entgo.Mutation, p Patch) error {
	for name, value := range p {
		old, err := m.OldField(ctx, name)
		if err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
		if sameValue(old, value) {
			delete(p, name)
		}
	}
	return nil
}

// sameValue compares a field's stored value (a pointer for an optional
// field) with a patch's (nil for none).
func sameValue(old, value any) bool {
	o := reflect.ValueOf(old)
	if o.Kind() == reflect.Pointer {
		if o.IsNil() {
			return value == nil
		}
		o = o.Elem()
	}
	if value == nil {
		return !o.IsValid() || o.IsZero()
	}
	if !o.IsValid() {
		return false
	}
	if t, ok := o.Interface().(time.Time); ok {
		v, ok := value.(time.Time)
		return ok && t.Equal(v)
	}
	return reflect.DeepEqual(o.Interface(), value)
}

// apply sets (strings trimmed) or clears the patch's fields on a mutation.
func apply(m entgo.Mutation, p Patch) error {
	for name, value := range p {
		var err error
		if value == nil {
			err = m.ClearField(name)
		} else {
			if str, ok := value.(string); ok {
				value = strings.TrimSpace(str)
			}
			err = m.SetField(name, value)
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
	}
	return nil
}
