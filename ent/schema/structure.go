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

// Structure is an establishment (établissement), identified by its FINESS number.
type Structure struct{ ent.Schema }

func (Structure) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (Structure) Fields() []ent.Field {
	return []ent.Field{
		field.String("finess").Unique().MaxLen(9).
			Annotations(entgql.OrderField("FINESS")),
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("kind").GoType(enums.StructureKind("")).
			Annotations(entgql.OrderField("KIND")),
		field.String("department").MaxLen(3).
			Comment("Département code: 75, 77, 78, 91, 92, 93, 94, 95, or others (2A, 2B, 971…)").
			Annotations(entgql.OrderField("DEPARTMENT")),
		field.String("address").Optional().MaxLen(300),
		field.String("postal_code").Optional().MaxLen(10),
		field.String("city").Optional().MaxLen(100),
		field.String("phone").Optional().MaxLen(30),
		field.String("email").Optional().MaxLen(254),
		field.Text("contacts").Optional().MaxLen(2000),
	}
}

func (Structure) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("units", Unit.Type).Annotations(entgql.RelayConnection()),
		edge.To("habilitations", Habilitation.Type).Annotations(hidden()),
		edge.To("requests", AdmissionRequest.Type).Annotations(hidden()),
	}
}

func (Structure) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		entgql.MultiOrder(),
	}
}

func (Structure) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.DenyAnonymous(), rule.AllowSignedIn(),
		},
		Mutation: rule.WritePolicy(),
	}
}
