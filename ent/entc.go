//go:build ignore

// entc.go generates the ent client and the GraphQL types (../ent.graphql)
// from the schema; gqlgen then runs from graph/generate.go.
package main

import (
	"log"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("../ent.graphql"),
		entgql.WithConfigPath("../gqlgen.yml"),
		entgql.WithWhereInputs(true),
		entgql.WithRelaySpec(true),
		entgql.WithSchemaHook(useSharedEnums),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./schema", &gen.Config{
		Features: []gen.Feature{
			gen.FeaturePrivacy,
			gen.FeatureEntQL,
			gen.FeatureIntercept,
			gen.FeatureVersionedMigration,
			gen.FeatureLock,
			gen.FeatureExecQuery,
			gen.FeatureModifier,
			gen.FeatureUpsert,
			gen.FeatureNamedEdges,
		},
	}, entc.Extensions(ex))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// useSharedEnums replaces the enums entgql derives per field (e.g.
// AdmissionRequestUrgency) by the shared ones of enums/enums.graphql (Urgency),
// so that every field of one Go enum type has one GraphQL enum type.
func useSharedEnums(_ *gen.Graph, s *ast.Schema) error {
	const prefix = "passerelle/enums."
	rename := map[string]string{}
	for name, def := range s.Types {
		if def.Kind != ast.Enum {
			continue
		}
		if d := def.Directives.ForName("goModel"); d != nil {
			if arg := d.Arguments.ForName("model"); arg != nil && strings.HasPrefix(arg.Value.Raw, prefix) {
				rename[name] = strings.TrimPrefix(arg.Value.Raw, prefix)
				delete(s.Types, name)
			}
		}
	}
	var fix func(t *ast.Type)
	fix = func(t *ast.Type) {
		if t == nil {
			return
		}
		if to, ok := rename[t.NamedType]; ok {
			t.NamedType = to
		}
		fix(t.Elem)
	}
	for _, def := range s.Types {
		for _, f := range def.Fields {
			fix(f.Type)
			for _, a := range f.Arguments {
				fix(a.Type)
			}
		}
	}
	return nil
}
