package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"

	"passerelle/enums"
)

// CareProjectSection (volet soins et projet).
type CareProjectSection struct{ ent.Schema }

func (CareProjectSection) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{}, timeMixin{}, sectionMixin{}}
}

func dependence(name string) ent.Field {
	return field.Enum(name).GoType(enums.DependenceLevel("")).Optional().Nillable()
}

func (CareProjectSection) Fields() []ent.Field {
	return []ent.Field{
		text("dependence"),
		dependence("dependence_washing"),
		dependence("dependence_mobility"),
		dependence("dependence_continence"),
		dependence("dependence_eating"),
		text("wounds"),
		text("nutrition_route"),
		text("technical_care"),
		text("psychological_needs"),
		text("social_needs"),
		text("spiritual_needs"),
		flag("emsp_involved"),
		flag("had_involved"),
		text("teams_involved"),
		field.Enum("stay_goal").GoType(enums.StayGoal("")).Optional().Nillable(),
		text("life_project"),
		flag("return_home_possible"),
	}
}

func (CareProjectSection) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("request", AdmissionRequest.Type).Ref("care_project").Field("request_id").
			Unique().Required().Immutable().Annotations(hidden()),
	}
}

func (CareProjectSection) Annotations() []schema.Annotation { return sectionAnnotations() }

func (CareProjectSection) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.CareProjectSections(),
		},
		Mutation: rule.WritePolicy(),
	}
}
