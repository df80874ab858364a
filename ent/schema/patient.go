package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"

	"passerelle/enums"
)

// Patient is the identity part of the administrative section. Never filterable
// nor sortable through the API: a filter on identity would be an oracle.
type Patient struct{ ent.Schema }

func (Patient) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (Patient) Fields() []ent.Field {
	return []ent.Field{
		field.String("birth_name").NotEmpty().MaxLen(100),
		field.String("used_name").Optional().Nillable().MaxLen(100),
		field.String("first_name").NotEmpty().MaxLen(100),
		field.Time("birth_date").Annotations(entgql.Type("Date")),
		field.String("birth_place").Optional().Nillable().MaxLen(100),
		field.Enum("sex").GoType(enums.Sex("")),
		field.String("ins").Optional().Nillable().MaxLen(15).
			Comment("INS/NIR: 13 characters + 2-digit key"),
	}
}

func (Patient) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("requests", AdmissionRequest.Type).Ref("patient").Annotations(hidden()),
	}
}

func (Patient) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput | entgql.SkipOrderField)}
}

func (Patient) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.Patients(),
		},
		Mutation: rule.WritePolicy(),
	}
}
