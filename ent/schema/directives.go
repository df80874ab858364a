package schema

import (
	"entgo.io/contrib/entgql"
	"github.com/vektah/gqlparser/v2/ast"

	"passerelle/enums"
)

// sectionDirective puts @section(kind: …) on a section edge: the GraphQL
// layer resolves it to null + FORBIDDEN for a viewer whose profile may not
// read that section (ent has no field-level privacy).
func sectionDirective(kind enums.SectionKind) entgql.Directive {
	return entgql.NewDirective("section", &ast.Argument{
		Name:  "kind",
		Value: &ast.Value{Raw: string(kind), Kind: ast.EnumValue},
	})
}
