package direct

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

const testSchema = `
directive @guard on FIELD_DEFINITION
directive @goField(forceResolver: Boolean) on FIELD_DEFINITION
enum Colour { RED BLUE }
type Query { things: [Thing!] }
type Thing {
  id: ID!
  name: String!
  birthName: String
  colour: Colour!
  count: Int
  kept: String @goField(forceResolver: false)
  resolved: String
  byMethod: String
  computed: Boolean!
  guarded: String @guard
  withArg(x: Int): String
  typed: Int
  owner: Owner
  secret: Owner @guard
  others: [Owner!]
}
type Owner { id: ID! label: String }
`

type colour string

func (c colour) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, `"`+string(c)+`"`) }

type thing struct {
	ID        uuid.UUID `json:"id,omitempty"`
	Name      string    `json:"name,omitempty"`
	BirthName *string   `json:"birth_name,omitempty"`
	Colour    colour    `json:"colour,omitempty"`
	Count     *int      `json:"count,omitempty"`
	Kept      string    `json:"kept,omitempty"`
	Resolved  string    `json:"resolved,omitempty"`
	ByMethodX string    `json:"by_method,omitempty"` // gqlgen binds byMethod to the method
	Guarded   string    `json:"guarded,omitempty"`
	WithArg   string    `json:"with_arg,omitempty"`
	Typed     string    `json:"typed,omitempty"`
	OwnerID   uuid.UUID `json:"owner_id,omitempty"`
}

func (*thing) ByMethod() string { return "" }

type thingResolver interface {
	Resolved(context.Context, *thing) (string, error)
	Computed(context.Context, *thing) (bool, error)
}

type owner struct {
	ID    uuid.UUID `json:"id,omitempty"`
	Label *string   `json:"label,omitempty"`
}

func testTypes(computed map[string]Computed) []*Type {
	return []*Type{
		{Name: "Thing", Table: "things", Model: thing{}, Resolvers: reflect.TypeFor[thingResolver](), Computed: computed,
			Edges: map[string]Edge{
				"owner":  {Target: "Owner", Column: "owner_id"},
				"secret": {Target: "Owner", Column: "thing_id", Reverse: true, Directive: "guard"},
				"others": {Target: "Owner", Column: "thing_id", Many: true},
			}},
		{Name: "Owner", Table: "owners", Model: owner{}},
	}
}

var aComputed = map[string]Computed{"computed": {Columns: []string{"name"}, Write: func(*bytes.Buffer, []any) {}}}

// The readable fields are the columns whose Go type writes as their GraphQL
// type, without a resolver, a model method, an argument or a directive.
func TestSchemaReadsOnlyPlainColumns(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: testSchema})
	s, err := New(schema, "sqlite3", testTypes(aComputed)...)
	if err != nil {
		t.Fatal(err)
	}
	scalars, edges := s.Fields("Thing")
	want := []string{"birthName", "colour", "computed", "count", "id", "kept", "name"}
	if !slices.Equal(scalars, want) {
		t.Errorf("readable fields %v, want %v", scalars, want)
	}
	if len(edges) != 3 {
		t.Errorf("edges %v", edges)
	}
	if Column("birthName") != "birth_name" || Column("id") != "id" {
		t.Error("Column")
	}
}

// A description that does not fit the schema is refused at start.
func TestSchemaRefusesWrongDescriptions(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: testSchema})
	for name, change := range map[string]func([]*Type){
		"computed without resolver": func(ts []*Type) {
			ts[0].Computed = map[string]Computed{"name": aComputed["computed"]}
		},
		"guarded edge undeclared": func(ts []*Type) {
			e := ts[0].Edges["secret"]
			e.Directive = ""
			ts[0].Edges["secret"] = e
		},
		"list as to-one": func(ts []*Type) {
			e := ts[0].Edges["others"]
			e.Many = false
			ts[0].Edges["others"] = e
		},
		"wrong target":   func(ts []*Type) { ts[0].Edges["owner"] = Edge{Target: "Thing", Column: "owner_id"} },
		"missing target": func(ts []*Type) { ts[1] = &Type{Name: "Query", Table: "q", Model: owner{}} },
		"kept column":    func(ts []*Type) { ts[0].Keep = []string{"nope"} },
	} {
		ts := testTypes(aComputed)
		change(ts)
		if _, err := New(schema, "sqlite3", ts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Compile declines what it cannot read exactly.
func TestCompileDeclines(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: testSchema})
	s, err := New(schema, "sqlite3", testTypes(aComputed)...)
	if err != nil {
		t.Fatal(err)
	}
	for query, ok := range map[string]bool{
		`{ things { id name colour owner { label } secret { id } others { id owner: label } __typename } }`: true,
		`{ things { ... on Thing { id } } }`:              true,
		`{ things { resolved } }`:                         false,
		`{ things { byMethod } }`:                         false,
		`{ things { guarded } }`:                          false,
		`{ things { withArg(x: 1) } }`:                    false,
		`{ things { typed } }`:                            false,
		`{ things { id @deprecated } }`:                   false,
		`{ things { others { id } owner { id } } }`:       true,
		`{ things { owner { id } ... @defer { name } } }`: false,
	} {
		// Parsed, not validated: @defer and a field directive are not
		// declared by the test schema.
		doc, err := parser.ParseQuery(&ast.Source{Input: query})
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		op := &graphql.OperationContext{Doc: doc, Variables: map[string]any{}}
		things := doc.Operations[0].SelectionSet[0].(*ast.Field)
		if _, got := s.Compile(op, "Thing", things.SelectionSet); got != ok {
			t.Errorf("%s: compiled %v, want %v", query, got, ok)
		}
	}
}
