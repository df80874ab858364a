package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"
)

// MedicalAccess logs every reading of a request's medical section.
type MedicalAccess struct{ ent.Schema }

func (MedicalAccess) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").Immutable(),
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.UUID("request_id", uuid.UUID{}).Immutable(),
		field.Time("accessed_at").Default(now).Immutable(),
	}
}

func (MedicalAccess) Indexes() []ent.Index {
	return []ent.Index{index.Fields("request_id", "accessed_at")}
}

func (MedicalAccess) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (MedicalAccess) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.DenyAll(),
		},
		Mutation: rule.WritePolicy(),
	}
}
