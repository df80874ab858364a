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

// AccessLog records readings that must be traced: every opening of a
// request's medical section, every opening of a dispatch by its unit.
type AccessLog struct{ ent.Schema }

func (AccessLog) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").Immutable(),
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.UUID("request_id", uuid.UUID{}).Immutable(),
		field.UUID("dispatch_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.String("kind").Immutable().Comment("MEDICAL_SECTION_READ or DISPATCH_OPENED"),
		field.Time("accessed_at").Default(now).Immutable(),
	}
}

func (AccessLog) Indexes() []ent.Index {
	return []ent.Index{index.Fields("request_id", "accessed_at")}
}

func (AccessLog) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (AccessLog) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.DenyAll(),
		},
		Mutation: rule.WritePolicy(),
	}
}
