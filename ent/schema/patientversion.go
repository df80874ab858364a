package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"
)

// PatientVersion is a patient's identity as it stood before a correction
// (updateAdmissionRequest), with who corrected it and when: the trace of an
// identity correction, which the correction's event does not carry (events
// hold no patient data). Read by the requesting side of the request only
// (rule.PatientVersionVisible); written by the workflow in the correction's
// transaction.
type PatientVersion struct{ ent.Schema }

func (PatientVersion) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.UUID("request_id", uuid.UUID{}).Immutable(),
		field.UUID("patient_id", uuid.UUID{}).Immutable(),
		field.Time("superseded_at").Immutable().Comment("When the correction replaced it"),
		field.UUID("superseded_by_id", uuid.UUID{}).Immutable().Comment("Who corrected it"),
		field.JSON("content", json.RawMessage{}).Immutable().Comment("The patient row as the ent entity's JSON"),
	}
}

func (PatientVersion) Indexes() []ent.Index {
	return []ent.Index{index.Fields("request_id", "superseded_at")}
}

func (PatientVersion) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (PatientVersion) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.PatientVersions(),
		},
		Mutation: rule.WritePolicy(),
	}
}
