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

// Event is one state change, written in the transaction that makes it
// (transactional outbox). Its integer id orders the timeline and is the
// position behind subscription cursors. No patient data is copied here.
type Event struct{ ent.Schema }

func (Event) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").Immutable(),
		field.Enum("type").GoType(enums.EventType("")).Immutable(),
		field.Time("occurred_at").Default(now).Immutable(),
		field.UUID("request_id", uuid.UUID{}).Immutable(),
		field.UUID("dispatch_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.UUID("unit_id", uuid.UUID{}).Optional().Nillable().Immutable().
			Comment("The receiving unit of the dispatch, for unit feeds"),
		field.UUID("actor_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.String("from_status").Optional().Immutable(),
		field.String("to_status").Optional().Immutable(),
		field.String("reason").Optional().Immutable(),
		field.Enum("section").GoType(enums.SectionKind("")).Optional().Nillable().Immutable(),
	}
}

func (Event) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("request", AdmissionRequest.Type).Ref("events").Field("request_id").
			Unique().Required().Immutable(),
		edge.To("dispatch", Dispatch.Type).Field("dispatch_id").Unique().Immutable(),
		edge.To("actor", User.Type).Field("actor_id").Unique().Immutable(),
	}
}

func (Event) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("request_id", "id"),
		index.Fields("unit_id", "id"),
		index.Fields("type", "occurred_at"),
	}
}

func (Event) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (Event) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.Events(),
		},
		Mutation: rule.WritePolicy(),
	}
}
