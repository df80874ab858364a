package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"

	"passerelle/enums"
)

// MedicalSection (volet médical) with the USP block.
type MedicalSection struct{ ent.Schema }

func (MedicalSection) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{}, timeMixin{}, sectionMixin{}}
}

func symptom(name string) ent.Field {
	return field.Enum(name).GoType(enums.SymptomControl("")).Optional().Nillable()
}

func (MedicalSection) Fields() []ent.Field {
	return []ent.Field{
		text("diagnosis"),
		text("history"),
		text("current_treatments"),
		text("allergies"),
		field.Int("pps_score").Optional().Nillable().Range(0, 100),
		field.JSON("pallia10", []bool{}).Optional().
			Comment("The 10 PALLIA-10 answers, item 1 first").
			Annotations(entgql.Type("[Boolean!]")),
		field.Enum("prognosis").GoType(enums.Prognosis("")).Optional().Nillable(),
		symptom("pain"),
		symptom("dyspnea"),
		symptom("nausea"),
		symptom("occlusion"),
		symptom("confusion_agitation"),
		symptom("anxiety"),
		flag("haemorrhagic_risk"),
		field.Enum("sedation").GoType(enums.Sedation("")).Optional().Nillable(),
		field.Enum("patient_informed_of_diagnosis").GoType(enums.InformationLevel("")).Optional().Nillable(),
		field.Enum("patient_informed_of_prognosis").GoType(enums.InformationLevel("")).Optional().Nillable(),
		flag("patient_informed_of_usp"),
		flag("patient_agrees_to_usp"),
		text("patient_wishes"),
		text("family_wishes"),
		flag("advance_directives"),
		text("advance_directives_location"),
		flag("trusted_person_designated"),
		text("treatment_limitation"),
		flag("isolation_required"),
		text("isolation_details"),
		flag("picc_line"),
		flag("pca_pump"),
		flag("stoma"),
		flag("oxygen"),
		flag("tracheostomy"),
		text("other_devices"),
		field.Time("validated_at").Optional().Nillable(),
		field.UUID("validated_by_id", uuid.UUID{}).Optional().Nillable(),
		field.Time("validation_removed_at").Optional().Nillable().
			Comment("Set when an edit after validation removed it"),
		field.UUID("validation_removed_by_id", uuid.UUID{}).Optional().Nillable(),
	}
}

func (MedicalSection) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("request", AdmissionRequest.Type).Ref("medical").Field("request_id").
			Unique().Required().Immutable().Annotations(hidden()),
		edge.To("validated_by", User.Type).Field("validated_by_id").Unique(),
		edge.To("validation_removed_by", User.Type).Field("validation_removed_by_id").Unique(),
	}
}

func (MedicalSection) Annotations() []schema.Annotation { return sectionAnnotations() }

func (MedicalSection) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.MedicalSections(),
		},
		Mutation: rule.WritePolicy(),
	}
}
