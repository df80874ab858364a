package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	"passerelle/enums"
)

// sectionMixin holds what every section (volet) shares: its request, its
// state and who edited it last. Section contents are never filterable.
type sectionMixin struct{ mixin.Schema }

func (sectionMixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("request_id", uuid.UUID{}).Unique().Immutable().Annotations(hidden()),
		field.Enum("state").GoType(enums.SectionState("")).Default(string(enums.SectionStateEmpty)),
		field.Time("last_edited_at").Optional().Nillable(),
		field.UUID("last_edited_by_id", uuid.UUID{}).Optional().Nillable().Annotations(hidden()),
	}
}

func sectionAnnotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput | entgql.SkipOrderField)}
}

func text(name string) ent.Field { return field.Text(name).Optional().Nillable().MaxLen(8000) }
func flag(name string) ent.Field { return field.Bool(name).Optional().Nillable() }
