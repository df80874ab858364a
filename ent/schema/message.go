package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"
)

// Message is one post in a dispatch's thread between the requesting side and the unit.
type Message struct{ ent.Schema }

func (Message) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}} }

func (Message) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("dispatch_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.UUID("author_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.Bool("from_receiver").Immutable().Comment("Posted by the receiving unit's side"),
		field.Text("body").NotEmpty().MaxLen(8000).Immutable(),
		field.Time("created_at").Default(now).Immutable(),
	}
}

func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("dispatch", Dispatch.Type).Ref("messages").Field("dispatch_id").
			Unique().Required().Immutable().Annotations(hidden()),
		edge.To("author", User.Type).Field("author_id").Unique().Required().Immutable(),
	}
}

func (Message) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput | entgql.SkipOrderField)}
}

func (Message) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.Messages(),
		},
		Mutation: rule.WritePolicy(),
	}
}
