// Package direct reads the selection of a GraphQL object — its scalar
// fields, its to-one edges to any depth, the to-many edges of the root — with
// one SQL statement per list, and writes the JSON of the answer itself. It
// declines (ok = false) whatever it cannot read exactly as gqlgen's
// resolvers would: a field with a resolver of its own (unless given as
// Computed), a field directive (unless the caller enforces it, Edge.Directive),
// an argument, a deferred fragment, a nested list. The caller then lets
// gqlgen resolve the field as usual; the answer is the same either way
// (e2e/direct_test.go compares them for every profile), only cheaper.
//
// Why: gqlgen resolves a page field by field — a goroutine per list element,
// a field context per value — and ent loads each edge of a page with a
// statement of its own. For the 50-row inbox that was 3 ms of CPU where
// hand-written SQL and encoding/json take 1 ms (docs/performance.md).
//
// The row rules are the ones ent's privacy layer applies (ent/schema/rule):
// the root table's in WHERE, each joined table's in its join condition, a
// list's in the WHERE of its statement, all under the same viewer. A joined
// row the rule hides comes back as NULLs; where the field is non-null the
// read reports ErrIrregular, and the caller falls back to the resolvers,
// which answer with the error they give.
package direct

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"passerelle/graph/scalar"
	"passerelle/viewer"
)

// Type is an object type of the GraphQL schema backed by one table.
type Type struct {
	// Name is the GraphQL object type.
	Name string
	// Table is its SQL table; its key column is "id".
	Table string
	// Model is the ent entity (a struct value): a scalar field is read from
	// the struct field whose json tag is its column (the field name in
	// snake case), with the Go type ent scans it into.
	Model any
	// Rule is the row rule of the type for a viewer; nil when a signed-in
	// viewer reads every row.
	Rule func(*viewer.Viewer) func(*sql.Selector)
	// Edges are the edges it may follow, by GraphQL field name.
	Edges map[string]Edge
	// Keep are columns read, selected or not, with every object of the type
	// whose selection has a directive-guarded edge, for the caller's
	// decisions on it (Rows.Each); not read otherwise.
	Keep []string
	// Computed are fields that have a resolver computing them from the
	// object's columns alone, by GraphQL field name.
	Computed map[string]Computed
	// Resolvers is gqlgen's resolver interface of the type, if it has one
	// (e.g. generated.DispatchResolver): a field resolved there is not read
	// from its column, unless it is given as Computed or as an edge.
	Resolvers reflect.Type

	implementors []string
	fields       map[string]*field
}

// Edge is an edge to another type; Column holds the key of the other end.
type Edge struct {
	Target string
	// Column is on this type's table and holds the target's key (a to-one
	// edge), or, with Reverse or Many, on the target's table and holds
	// this type's key.
	Column string
	// Reverse: a to-one edge whose key is on the target's table (a unique
	// column), e.g. a request's section.
	Reverse bool
	// Many: a list, read by a statement of its own for the page's rows,
	// ordered by key (the resolver orders it the same way). Only on the
	// root object.
	Many bool
	// Always: every row of this type has its target row (a request's
	// sections), so a NULL join is the target's rule hiding it; the read is
	// then irregular and the resolvers answer, as for a non-null field (they
	// may serve another version: a request's sections).
	Always bool
	// Directive is the field directive of the edge that the caller enforces
	// itself, through Rows.Each, before anything is written (e.g. "section").
	Directive string
	// RuleImplied: the target's row rule holds for every row this edge
	// reaches from a row that passed its own rule (a request's patient: a
	// patient is visible with a visible request), so its join carries no
	// rule. Whoever sets it states, next to it, the rules it relies on, and
	// a test pins them.
	RuleImplied bool
	// RuleImpliedFor: as RuleImplied, for the viewers it returns true for
	// (e.g. a request's sections for the requesting side only: a receiver
	// may see a request and not its later sections).
	RuleImpliedFor func(*viewer.Viewer) bool
}

// ruleImplied: the edge's target rows need no rule of their own for v.
func (e Edge) ruleImplied(v *viewer.Viewer) bool {
	return e.RuleImplied || e.RuleImpliedFor != nil && e.RuleImpliedFor(v)
}

// Computed is a field computed from columns of its object.
type Computed struct {
	Columns []string
	// Write writes the field's JSON from the columns' values (nil for NULL).
	Write func(w *bytes.Buffer, values []any)
}

// field is a scalar field read from a column.
type field struct {
	column  string
	elem    reflect.Type // the Go type scanned, without pointer
	nonNull bool
	// zero: the entity's field is not a pointer, so ent reads NULL as the
	// zero value (an optional string column is "", not null).
	zero  bool
	write func(*bytes.Buffer, reflect.Value)
}

// Schema holds the types it can read, checked against the GraphQL schema.
type Schema struct {
	types   map[string]*Type
	dialect string
}

// configOnly are the schema directives gqlgen reads at generation time only;
// any other directive on a field runs at execution (e.g. @section), and
// such a field is left to the resolvers.
var configOnly = map[string]bool{"goField": true, "goModel": true, "goTag": true, "goExtraField": true, "goEnum": true, "deprecated": true}

var (
	uuidType      = reflect.TypeFor[uuid.UUID]()
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[graphql.Marshaler]()
)

// New checks types against the schema: each scalar field whose column the
// model has, with a Go type that writes as the field's GraphQL type, is
// readable; the others are not (a selection naming them is declined).
func New(schema *ast.Schema, dialect string, types ...*Type) (*Schema, error) {
	s := &Schema{types: map[string]*Type{}, dialect: dialect}
	for _, t := range types {
		def := schema.Types[t.Name]
		if def == nil || def.Kind != ast.Object {
			return nil, fmt.Errorf("direct: %s is not an object type of the schema", t.Name)
		}
		t.implementors = append([]string{t.Name}, def.Interfaces...)
		t.fields = map[string]*field{}
		model := reflect.TypeOf(t.Model)
		for name, e := range t.Edges {
			fd := def.Fields.ForName(name)
			if fd == nil || !plain(fd, e.Directive) || (fd.Type.Elem != nil) != e.Many || e.Many && e.Reverse {
				return nil, fmt.Errorf("direct: %s.%s is not an edge as described", t.Name, name)
			}
			if target := fd.Type.Name(); target != e.Target {
				return nil, fmt.Errorf("direct: %s.%s leads to %s, not %s", t.Name, name, target, e.Target)
			}
		}
		for name, c := range t.Computed {
			if fd := def.Fields.ForName(name); fd == nil || !plain(fd, "") {
				return nil, fmt.Errorf("direct: %s.%s is not a field without argument or directive", t.Name, name)
			}
			if !resolvedBy(t.Resolvers, name) {
				return nil, fmt.Errorf("direct: %s.%s is given as computed but has no resolver to mirror", t.Name, name)
			}
			for _, col := range append(c.Columns, t.Keep...) {
				if _, ok := structField(model, col); !ok {
					return nil, fmt.Errorf("direct: %s has no column %s", t.Name, col)
				}
			}
		}
		for _, fd := range def.Fields {
			if _, edge := t.Edges[fd.Name]; edge || !plain(fd, "") {
				continue
			}
			if _, computed := t.Computed[fd.Name]; computed || resolvedBy(t.Resolvers, fd.Name) || resolvedBy(reflect.PointerTo(model), fd.Name) {
				// A resolver, or a method of the model that gqlgen would
				// call, gives the field: not its column.
				continue
			}
			if f := scalarField(schema, model, fd); f != nil {
				t.fields[fd.Name] = f
			}
		}
		s.types[t.Name] = t
	}
	for _, t := range types {
		for name, e := range t.Edges {
			if s.types[e.Target] == nil {
				return nil, fmt.Errorf("direct: edge %s.%s to %s, which is not given", t.Name, name, e.Target)
			}
		}
	}
	return s, nil
}

// resolvedBy: typ (a resolver interface or a model) has a method for the
// GraphQL field.
func resolvedBy(typ reflect.Type, field string) bool {
	if typ == nil || field == "" {
		return false
	}
	_, ok := typ.MethodByName(strings.ToUpper(field[:1]) + field[1:])
	return ok
}

// plain: the field takes no argument and runs no directive but the one the
// caller enforces (enforced, or "").
func plain(fd *ast.FieldDefinition, enforced string) bool {
	if len(fd.Arguments) > 0 {
		return false
	}
	for _, d := range fd.Directives {
		if !configOnly[d.Name] && d.Name != enforced {
			return false
		}
	}
	return true
}

// scalarField maps a GraphQL scalar or enum field to the model's struct
// field for its column, or returns nil.
func scalarField(schema *ast.Schema, model reflect.Type, fd *ast.FieldDefinition) *field {
	if fd.Type.Elem != nil {
		return nil
	}
	column := Column(fd.Name)
	sf, ok := structField(model, column)
	if !ok {
		return nil
	}
	elem := sf.Type
	if elem.Kind() == reflect.Pointer {
		elem = elem.Elem()
	}
	f := &field{column: column, elem: elem, nonNull: fd.Type.NonNull, zero: sf.Type.Kind() != reflect.Pointer}
	name := fd.Type.NamedType
	switch {
	case name == "ID" && elem == uuidType:
		f.write = writeID
	case name == "String" && elem == reflect.TypeFor[string]():
		f.write = func(b *bytes.Buffer, v reflect.Value) { graphql.MarshalString(v.String()).MarshalGQL(b) }
	case name == "Int" && elem == reflect.TypeFor[int]():
		f.write = func(b *bytes.Buffer, v reflect.Value) { b.Write(strconv.AppendInt(b.AvailableBuffer(), v.Int(), 10)) }
	case name == "Boolean" && elem == reflect.TypeFor[bool]():
		f.write = func(b *bytes.Buffer, v reflect.Value) { b.Write(strconv.AppendBool(b.AvailableBuffer(), v.Bool())) }
	case name == "Time" && elem == timeType:
		f.write = writeTime
	case name == "Date" && elem == timeType:
		f.write = writeDate
	case schema.Types[name] != nil && schema.Types[name].Kind == ast.Enum && elem.Kind() == reflect.String && elem.Implements(marshalerType):
		// The enums write their value quoted (enums.marshal).
		f.write = func(b *bytes.Buffer, v reflect.Value) { b.Write(strconv.AppendQuote(b.AvailableBuffer(), v.String())) }
	default:
		return nil
	}
	return f
}

// The writers write what gqlgen's marshallers do (scalar.MarshalID,
// graphql.MarshalTime, scalar.MarshalDate), without their allocations.

func writeID(b *bytes.Buffer, v reflect.Value) {
	u := v.Interface().(uuid.UUID)
	out := append(b.AvailableBuffer(), '"')
	out = append(out, u.String()...)
	b.Write(append(out, '"'))
}

func writeTime(b *bytes.Buffer, v reflect.Value) {
	t := v.Interface().(time.Time)
	if t.IsZero() {
		b.WriteString("null")
		return
	}
	out := append(b.AvailableBuffer(), '"')
	out = t.AppendFormat(out, time.RFC3339Nano)
	b.Write(append(out, '"'))
}

func writeDate(b *bytes.Buffer, v reflect.Value) {
	t := v.Interface().(time.Time)
	out := append(b.AvailableBuffer(), '"')
	out = t.UTC().AppendFormat(out, scalar.DateLayout)
	b.Write(append(out, '"'))
}

// structField finds the field of an ent entity for a column (its json tag).
func structField(model reflect.Type, column string) (reflect.StructField, bool) {
	for i := range model.NumField() {
		sf := model.Field(i)
		if tag, _, _ := strings.Cut(sf.Tag.Get("json"), ","); tag == column && sf.IsExported() {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

// Column is the column of a GraphQL field, as entgql names fields after
// ent's columns: birthName → birth_name.
func Column(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
