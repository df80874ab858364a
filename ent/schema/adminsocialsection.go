package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"passerelle/ent/privacy"
	"passerelle/ent/schema/rule"
)

// AdminSocialSection (volet administratif et social). The patient's identity
// lives in Patient; this holds the rest.
type AdminSocialSection struct{ ent.Schema }

func (AdminSocialSection) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin{}, timeMixin{}, sectionMixin{}}
}

func (AdminSocialSection) Fields() []ent.Field {
	return []ent.Field{
		text("address"),
		text("postal_code"),
		text("city"),
		text("health_cover"),
		text("legal_protection"),
		text("living_situation"),
		text("caregivers"),
		text("person_to_notify"),
		text("trusted_person"),
		text("social_worker"),
		text("geographic_preference"),
	}
}

func (AdminSocialSection) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("request", AdmissionRequest.Type).Ref("admin_social").Field("request_id").
			Unique().Required().Immutable().Annotations(hidden()),
	}
}

func (AdminSocialSection) Annotations() []schema.Annotation { return sectionAnnotations() }

func (AdminSocialSection) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowSystem(),
			rule.AdminSocialSections(),
		},
		Mutation: rule.WritePolicy(),
	}
}
