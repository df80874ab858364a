package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"
)

// LoginThrottle counts the recent failed sign-ins of one key (an account's
// e-mail "email:x@y", a client address "addr:1.2.3.4"), in the database so
// that every instance behind a load balancer sees the same count (see
// auth.DBThrottle). A row lives while its key is slowed down or within the
// window after its last failure; it is deleted on a successful sign-in and
// once that window has passed.
type LoginThrottle struct{ ent.Schema }

func (LoginThrottle) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").Unique().Immutable().MaxLen(320),
		field.Int("failures").Default(0),
		field.Time("last_failure_at"),
		field.Time("locked_until").Optional().Nillable().
			Comment("No attempt before this time: slow-down or lock"),
	}
}

func (LoginThrottle) Indexes() []ent.Index {
	// The clean-up of expired rows looks them up by their last failure.
	return []ent.Index{index.Fields("last_failure_at")}
}

func (LoginThrottle) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (LoginThrottle) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.DenyAll(),
		},
		Mutation: rule.WritePolicy(),
	}
}
