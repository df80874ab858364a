package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// now is the clock of every default timestamp: UTC, as the design asks.
func now() time.Time { return time.Now().UTC() }

// idMixin gives an entity a random UUID primary key: opaque, it reveals
// neither row counts nor creation order to a stranger.
type idMixin struct{ mixin.Schema }

func (idMixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
	}
}

// timeMixin records creation and last update instants.
type timeMixin struct{ mixin.Schema }

func (timeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(now).UpdateDefault(now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

// skipFilter keeps a field out of generated where-inputs and orderings:
// a filter on patient or secret data would be an oracle.
func skipFilter() entgql.Annotation {
	return entgql.Skip(entgql.SkipWhereInput | entgql.SkipOrderField)
}

// hidden keeps a field or an edge out of the GraphQL schema entirely.
func hidden() entgql.Annotation { return entgql.Skip(entgql.SkipAll) }
