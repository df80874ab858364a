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

// Unit belongs to a structure: a receiving USP unit or a requesting ward/team.
type Unit struct{ ent.Schema }

func (Unit) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (Unit) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("structure_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("kind").GoType(enums.UnitKind("")).
			Annotations(entgql.OrderField("KIND")),
		field.Int("capacity").Optional().Nillable().Min(0).
			Comment("Number of beds (USP units)"),
		field.Int("available_beds").Optional().Nillable().Min(0).
			Annotations(entgql.OrderField("AVAILABLE_BEDS")),
		field.Time("available_beds_updated_at").Optional().Nillable(),
		field.UUID("available_beds_updated_by", uuid.UUID{}).Optional().Nillable().Annotations(hidden()),
		field.Bool("accepting_requests").Default(false),
		field.Text("admission_criteria").Optional().MaxLen(4000),
		field.Text("admission_hours").Optional().MaxLen(1000),
		field.Text("contacts").Optional().MaxLen(2000),
	}
}

func (Unit) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("structure", Structure.Type).Ref("units").Field("structure_id").
			Unique().Required().Immutable(),
		edge.To("habilitations", Habilitation.Type).Annotations(hidden()),
		edge.To("dispatches", Dispatch.Type).Annotations(hidden()),
		edge.To("origin_requests", AdmissionRequest.Type).Annotations(hidden()),
	}
}

func (Unit) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("kind", "accepting_requests"),
		// The USP units of a structure: the session statement's join for a
		// structure-wide receiving habilitation (auth.viewerJoins), which
		// otherwise walks every USP unit of the region or the country.
		index.Fields("structure_id", "kind"),
	}
}

func (Unit) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.MultiOrder()}
}

func (Unit) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.DenyAnonymous(), rule.AllowSignedIn(),
		},
		Mutation: rule.WritePolicy(),
	}
}
