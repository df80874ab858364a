package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"
)

// User is a nominative account (one e-mail per account).
type User struct{ ent.Schema }

func (User) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").Unique().MaxLen(254).
			Comment("Lower-cased; one e-mail per account").
			Annotations(entgql.OrderField("EMAIL")),
		field.String("first_name").NotEmpty().MaxLen(100),
		field.String("last_name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("LAST_NAME")),
		field.String("profession").Optional().MaxLen(100),
		field.String("phone").Optional().MaxLen(30),
		field.String("rpps").Optional().Nillable().MaxLen(11).Annotations(skipFilter()),
		field.String("password_hash").Optional().Sensitive(),
		field.Time("password_changed_at").Optional().Nillable().Annotations(hidden()),
		field.String("setup_token_hash").Optional().Nillable().Unique().Sensitive(),
		field.Time("setup_token_expires_at").Optional().Nillable().Annotations(hidden()),
		field.Bool("disabled").Default(false),
		field.Time("disabled_at").Optional().Nillable(),
		field.Bool("demo").Default(false).Annotations(hidden()).
			Comment("Demo account: its demo password is refused outside demo mode"),
	}
}

func (User) Edges() []ent.Edge {
	return []ent.Edge{
		// Not filterable: a referent would learn a user's grants elsewhere.
		edge.To("habilitations", Habilitation.Type).Annotations(entgql.Skip(entgql.SkipWhereInput)),
		edge.To("sessions", Session.Type).Annotations(hidden()),
	}
}

func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.MultiOrder()}
}

func (User) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.Users(),
		},
		Mutation: rule.WritePolicy(),
	}
}
