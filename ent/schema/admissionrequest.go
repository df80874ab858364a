package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"

	"passerelle/enums"
)

// AdmissionRequest (demande) concerns one patient and is sent to several USP units.
type AdmissionRequest struct{ ent.Schema }

func (AdmissionRequest) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (AdmissionRequest) Fields() []ent.Field {
	return []ent.Field{
		field.String("reference").Unique().Immutable().MaxLen(32).
			Comment("Human-readable, e.g. USP-2026-000123").
			Annotations(entgql.OrderField("REFERENCE")),
		field.UUID("origin_structure_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.UUID("origin_unit_id", uuid.UUID{}).Optional().Nillable().Immutable().Annotations(hidden()),
		field.UUID("created_by_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.UUID("patient_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.Enum("status").GoType(enums.RequestStatus("")).Default(string(enums.RequestStatusDraft)).
			Annotations(entgql.OrderField("STATUS")),
		field.Enum("urgency").GoType(enums.Urgency("")).
			Annotations(entgql.OrderField("URGENCY")),
		field.Time("desired_admission_date").Optional().Nillable().
			Annotations(entgql.Type("Date"), entgql.OrderField("DESIRED_ADMISSION_DATE")),
		field.Int("version").Default(1).
			Comment("Optimistic concurrency: bumped by every change"),
		field.Time("sent_at").Optional().Nillable().Annotations(entgql.OrderField("SENT_AT")),
		field.Time("confirmed_at").Optional().Nillable(),
		field.Time("admitted_at").Optional().Nillable(),
		field.Time("cancelled_at").Optional().Nillable(),
		field.Enum("cancellation_reason").GoType(enums.CancellationReason("")).Optional().Nillable(),
		field.Text("cancellation_comment").Optional().Nillable().MaxLen(2000).Annotations(skipFilter()),
		field.Time("archived_at").Optional().Nillable(),
		field.String("duplicate_key").Optional().Nillable().Annotations(hidden()).
			Comment("Folded birth name|first name|birth date|sex, for the duplicate warning"),
	}
}

func (AdmissionRequest) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("origin_structure", Structure.Type).Ref("requests").Field("origin_structure_id").
			Unique().Required().Immutable(),
		edge.From("origin_unit", Unit.Type).Ref("origin_requests").Field("origin_unit_id").
			Unique().Immutable(),
		edge.To("created_by", User.Type).Field("created_by_id").Unique().Required().Immutable(),
		edge.To("patient", Patient.Type).Field("patient_id").Unique().Required().Immutable(),
		edge.To("medical", MedicalSection.Type).Unique().
			Annotations(entgql.Directives(sectionDirective(enums.SectionKindMedical))),
		edge.To("care_project", CareProjectSection.Type).Unique().
			Annotations(entgql.Directives(sectionDirective(enums.SectionKindCareProject))),
		edge.To("admin_social", AdminSocialSection.Type).Unique().
			Annotations(entgql.Directives(sectionDirective(enums.SectionKindAdminSocial))),
		// Not filterable: a receiving unit would learn through the filter where
		// else the request went and what the other units answered.
		edge.To("dispatches", Dispatch.Type).Annotations(entgql.Skip(entgql.SkipWhereInput)),
		edge.To("events", Event.Type).Annotations(hidden()),
	}
}

func (AdmissionRequest) Indexes() []ent.Index {
	return []ent.Index{
		// The prescriber dashboard: a structure's requests, newest first;
		// with id the page and its totalCount come from the index alone.
		index.Fields("origin_structure_id", "created_at", "id"),
		// The patient row rule asks "is one of this patient's requests
		// visible?" for every patient row it returns.
		index.Fields("patient_id"),
		index.Fields("duplicate_key", "status"),
		index.Fields("status", "updated_at"),
	}
}

// Interceptors keep the columns the profile rules need in every projection.
func (AdmissionRequest) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{rule.KeepScopeColumns()}
}

func (AdmissionRequest) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(),
		entgql.QueryField().Description("Requests the viewer may see (requesting side: its structure's; receivers: those sent to their units). Without orderBy, newest first."),
		entgql.MultiOrder()}
}

func (AdmissionRequest) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.Requests(),
		},
		Mutation: rule.WritePolicy(),
	}
}
