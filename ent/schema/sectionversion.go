package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"
	"passerelle/enums"
)

// SectionVersion is a section as it stood before an edit, kept because a
// unit whose dispatch had closed (withdrawn, cancelled, admitted, not
// admitted) had received it: that unit keeps read-only access to what it
// received (rule.SectionVersionVisible), the request goes on without it.
// Written by the workflow in the edit's transaction (copy on write: only
// versions a closed dispatch saw, never while the request is a draft).
type SectionVersion struct{ ent.Schema }

func (SectionVersion) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.UUID("request_id", uuid.UUID{}).Immutable(),
		field.Enum("kind").GoType(enums.SectionKind("")).Immutable(),
		field.Time("updated_at").Immutable().Comment("The version's own updated_at: when it was written"),
		field.Time("superseded_at").Immutable().Comment("When the edit replaced it"),
		field.JSON("content", json.RawMessage{}).Immutable().Comment("The section row as the ent entity's JSON"),
	}
}

func (SectionVersion) Indexes() []ent.Index {
	return []ent.Index{index.Fields("request_id", "kind", "updated_at").Unique()}
}

func (SectionVersion) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

func (SectionVersion) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.SectionVersions(),
		},
		Mutation: rule.WritePolicy(),
	}
}
