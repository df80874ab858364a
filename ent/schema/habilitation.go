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

// Habilitation grants one profile on one structure (optionally one unit)
// for a validity period. Revoked or expired, it gives nothing at once.
type Habilitation struct{ ent.Schema }

func (Habilitation) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (Habilitation) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("user_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.UUID("structure_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.UUID("unit_id", uuid.UUID{}).Optional().Nillable().Immutable().Annotations(hidden()),
		field.Enum("profile").GoType(enums.Profile("")).Immutable(),
		field.Time("valid_from"),
		field.Time("valid_until"),
		field.Time("revoked_at").Optional().Nillable(),
		field.UUID("revoked_by", uuid.UUID{}).Optional().Nillable().Annotations(hidden()),
		field.UUID("granted_by", uuid.UUID{}).Optional().Nillable().Immutable().Annotations(hidden()),
		field.Bool("email_notifications").Default(false),
	}
}

func (Habilitation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("habilitations").Field("user_id").Unique().Required().Immutable(),
		edge.From("structure", Structure.Type).Ref("habilitations").Field("structure_id").Unique().Required().Immutable(),
		edge.From("unit", Unit.Type).Ref("habilitations").Field("unit_id").Unique().Immutable(),
	}
}

func (Habilitation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "valid_until"),
		index.Fields("structure_id", "profile"),
	}
}

func (Habilitation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

func (Habilitation) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.Habilitations(),
		},
		Mutation: rule.WritePolicy(),
	}
}
