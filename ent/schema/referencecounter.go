package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"
)

// ReferenceCounter numbers requests per year (USP-2026-000123).
type ReferenceCounter struct{ ent.Schema }

func (ReferenceCounter) Fields() []ent.Field {
	return []ent.Field{
		field.Int("id").Immutable().Comment("The year"),
		field.Int("last").Default(0),
	}
}

func (ReferenceCounter) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (ReferenceCounter) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.DenyAll(),
		},
		Mutation: rule.WritePolicy(),
	}
}
