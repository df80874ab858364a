package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"

	"passerelle/enums"
)

// Dispatch (envoi) is one request sent to one receiving unit.
type Dispatch struct{ ent.Schema }

func (Dispatch) Mixin() []ent.Mixin { return []ent.Mixin{idMixin{}, timeMixin{}} }

func (Dispatch) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("request_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.UUID("unit_id", uuid.UUID{}).Immutable().Annotations(hidden()),
		field.Enum("status").GoType(enums.DispatchStatus("")).Default(string(enums.DispatchStatusPending)).
			Annotations(entgql.OrderField("STATUS")),
		field.Enum("urgency").GoType(enums.Urgency("")).
			Comment("Copy of the request's urgency, so that inboxes filter without a join").
			Annotations(entgql.OrderField("URGENCY")),
		field.Time("sent_at").Default(now).Immutable().Annotations(entgql.OrderField("SENT_AT")),
		field.Time("read_at").Optional().Nillable(),
		field.Time("answered_at").Optional().Nillable(),
		field.Enum("refusal_reason").GoType(enums.RefusalReason("")).Optional().Nillable(),
		field.Text("answer_comment").Optional().Nillable().MaxLen(4000).Annotations(skipFilter()),
		field.Time("proposed_admission_date").Optional().Nillable().Annotations(entgql.Type("Date")),
		field.Text("information_question").Optional().Nillable().MaxLen(4000).Annotations(skipFilter()),
		field.Time("confirmed_at").Optional().Nillable(),
		field.Time("withdrawn_at").Optional().Nillable(),
		field.Time("closed_at").Optional().Nillable().Comment("Cancelled, admitted or not admitted"),
		field.Time("admitted_at").Optional().Nillable(),
		field.Enum("not_admitted_reason").GoType(enums.NotAdmittedReason("")).Optional().Nillable(),
		field.Bool("updated_since_read").Default(false).
			Comment("The request changed after this unit last opened it"),
	}
}

func (Dispatch) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("request", AdmissionRequest.Type).Ref("dispatches").Field("request_id").
			Unique().Required().Immutable(),
		edge.From("unit", Unit.Type).Ref("dispatches").Field("unit_id").
			Unique().Required().Immutable(),
		edge.To("messages", Message.Type),
	}
}

func (Dispatch) Indexes() []ent.Index {
	return []ent.Index{
		// Never twice to the same unit.
		index.Fields("request_id", "unit_id").Unique(),
		// At most one dispatch of a request is ever confirmed, whatever the
		// application does: the database refuses a second one.
		index.Fields("request_id").Unique().StorageKey("dispatch_one_confirmed_per_request").
			Annotations(entsql.IndexWhere("status IN ('CONFIRMED', 'ADMITTED', 'NOT_ADMITTED')")),
		// A unit's inbox, newest first. id and request_id make it covering
		// for totalCount under the dispatch row rule (it reads request_id).
		// sent_at descending and id ascending, the inbox's order (entgql's
		// cursors break ties by ascending id): read in index order, without
		// SQLite's temporary b-tree for ties or PostgreSQL's incremental
		// sort (SQLite: 1.72 -> 1.23 million instructions for the page's
		// statement; docs/performance.md, session 9).
		index.Fields("unit_id", "sent_at", "id", "request_id").
			Annotations(entsql.DescColumns("sent_at")),
		// The inbox's totalCount: a busy unit's count walks ~19 000
		// entries a year, and this index's are a third of the one above
		// (SQLite: 0.68 against 1.5 ms for the idf data's busiest unit;
		// docs/performance.md, session 9).
		index.Fields("unit_id"),
	}
}

func (Dispatch) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

func (Dispatch) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.Dispatches(),
		},
		Mutation: rule.WritePolicy(),
	}
}
