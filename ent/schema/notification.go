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
)

// Notification is an e-mail to send (package notify): the outbox between
// the events that call for one and the mail server. Its key makes writing
// it idempotent (the same event or reminder never gives one person two
// e-mails, whichever instance prepares it). It holds no patient data.
type Notification struct{ ent.Schema }

func (Notification) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").Immutable(),
		field.String("key").Unique().Immutable().MaxLen(200).
			Comment("What it is about and for whom, e.g. event:1234:<user id> or late:<dispatch id>:<user id>"),
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.String("email").Immutable().MaxLen(320).Comment("The address when it was prepared"),
		field.String("subject").Immutable().MaxLen(300),
		field.Text("body").Immutable(),
		field.Time("created_at").Default(now).Immutable(),
		field.Time("next_attempt_at").Comment("Not before: the first attempt, a retry, or the end of a sender's lease"),
		field.Int("attempts").Default(0),
		field.Time("sent_at").Optional().Nillable(),
		field.Time("failed_at").Optional().Nillable().Comment("Given up after the last attempt"),
		field.Text("last_error").Optional().Nillable(),
	}
}

func (Notification) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

func (Notification) Indexes() []ent.Index {
	// The sender's queue: unsent, not given up, due.
	return []ent.Index{index.Fields("sent_at", "failed_at", "next_attempt_at")}
}

func (Notification) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (Notification) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.DenyAll(),
		},
		Mutation: rule.WritePolicy(),
	}
}

// NotificationCursor is the last event the notifications were prepared
// from (one row, id 1): after a restart the next events are taken up where
// they were left, none twice and none skipped.
type NotificationCursor struct{ ent.Schema }

func (NotificationCursor) Fields() []ent.Field {
	return []ent.Field{
		field.Int("id").Immutable(),
		field.Int64("event_id"),
		field.Time("updated_at").Default(now).UpdateDefault(now),
	}
}

func (NotificationCursor) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (NotificationCursor) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.DenyAll(),
		},
		Mutation: rule.WritePolicy(),
	}
}
