// Package direct reads the selection of a GraphQL object — its scalar
// fields and its to-one edges, to any depth — with one SQL statement, and
// writes the JSON of the answer itself. It declines (ok = false) whatever it
// cannot read exactly as gqlgen's resolvers would: a field that has a
// resolver of its own, a field directive (the @section rule), an argument, a
// deferred fragment, a list. The caller then lets gqlgen resolve the field
// as usual; the answer is the same either way (graph/direct_test.go compares
// them for every profile), only cheaper.
//
// Why: gqlgen resolves a page field by field — a goroutine per list element,
// a field context per value — and ent loads each to-one edge of a page with
// a statement of its own. For the 50-row inbox that was 3 ms of CPU where
// hand-written SQL and encoding/json take 1 ms (docs/performance.md).
//
// The row rules are the ones ent's privacy layer applies (ent/schema/rule):
// the root table's in WHERE, each joined table's in its join condition, all
// under the same viewer. A joined row the rule hides comes back as NULLs;
// where the field is non-null the read reports ErrIrregular, and the caller
// falls back to the resolvers, which answer with the error they give.
package direct

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
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
	// Edges are the to-one edges it may follow, by GraphQL field name.
	Edges map[string]Edge

	implementors []string
	fields       map[string]*field
}

// Edge is a to-one edge: the column of the type's table that holds the
// target's key.
type Edge struct {
	Target string
	Column string
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
		for _, fd := range def.Fields {
			if !plain(fd) {
				continue
			}
			if e, ok := t.Edges[fd.Name]; ok {
				if fd.Type.Elem != nil || fd.Type.NamedType != e.Target {
					return nil, fmt.Errorf("direct: %s.%s is not a to-one edge to %s", t.Name, fd.Name, e.Target)
				}
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

// plain: the field takes no argument and runs no directive.
func plain(fd *ast.FieldDefinition) bool {
	if len(fd.Arguments) > 0 {
		return false
	}
	for _, d := range fd.Directives {
		if !configOnly[d.Name] {
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
	column := snake(fd.Name)
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

// snake turns a GraphQL field name into its column: birthName → birth_name.
func snake(s string) string {
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

// Object is a compiled selection on an object type.
type Object struct {
	typ *Type
	out []output
}

// output is one key of the object's JSON, in the order of the selection.
type output struct {
	key      string
	typename bool
	field    *field
	child    *Object // a to-one edge, with edge
	edge     Edge
	column   int // in the statement: the field's column, or the edge target's key
	nonNull  bool
}

// Compile compiles a selection on the named type; ok is false when some
// part of it is not readable here.
func (s *Schema) Compile(op *graphql.OperationContext, typeName string, sel ast.SelectionSet) (*Object, bool) {
	t := s.types[typeName]
	if t == nil {
		return nil, false
	}
	o := &Object{typ: t}
	for _, cf := range graphql.CollectFields(op, sel, t.implementors) {
		if len(cf.Deferrables) > 0 || len(cf.Arguments) > 0 || !onlySkipInclude(cf.Directives) {
			return nil, false
		}
		if cf.Name == "__typename" {
			o.out = append(o.out, output{key: cf.Alias, typename: true})
			continue
		}
		if e, ok := t.Edges[cf.Name]; ok {
			child, ok := s.Compile(op, e.Target, cf.Selections)
			if !ok {
				return nil, false
			}
			o.out = append(o.out, output{key: cf.Alias, child: child, edge: e, nonNull: cf.Definition != nil && cf.Definition.Type.NonNull})
			continue
		}
		f := t.fields[cf.Name]
		if f == nil || len(cf.Selections) > 0 {
			return nil, false
		}
		o.out = append(o.out, output{key: cf.Alias, field: f, nonNull: f.nonNull})
	}
	return o, true
}

// Empty is a selection of no field on the named type (for a root whose rows
// are read for their key and ordering columns only).
func (s *Schema) Empty(typeName string) (*Object, bool) {
	t := s.types[typeName]
	if t == nil {
		return nil, false
	}
	return &Object{typ: t}, true
}

func onlySkipInclude(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			return false
		}
	}
	return true
}

// Query is the statement reading a compiled object and its edges: the root
// table is aliased t0, so that the caller adds its paging predicates and
// order to Selector.
type Query struct {
	Selector *sql.Selector
	Root     *sql.SelectTable
	columns  []reflect.Type // scanned Go type of each selected column
	seen     map[string]int // "alias.column" → its index in columns
	rootCols map[string]int
	root     *Object
	next     int // next table alias
}

// Select builds the statement reading o for the viewer v, with the root
// columns extra (read whether selected or not, see Row.Root).
func (s *Schema) Select(o *Object, v *viewer.Viewer, extra ...string) *Query {
	b := sql.Dialect(s.dialect)
	root := b.Table(o.typ.Table).As("t0")
	q := &Query{Selector: b.Select().From(root), Root: root, rootCols: map[string]int{}, seen: map[string]int{}, root: o, next: 1}
	if o.typ.Rule != nil {
		o.typ.Rule(v)(q.Selector)
	}
	for _, c := range append([]string{"id"}, extra...) {
		q.rootCols[c] = q.column(root, c, s.columnType(o.typ, c))
	}
	s.addColumns(q, b, v, o, root)
	return q
}

// columnType is the scanned type of a root column given as extra.
func (s *Schema) columnType(t *Type, column string) reflect.Type {
	if column == "id" {
		return uuidType
	}
	sf, ok := structField(reflect.TypeOf(t.Model), column)
	if !ok {
		panic(fmt.Sprintf("direct: %s has no column %s", t.Name, column))
	}
	if sf.Type.Kind() == reflect.Pointer {
		return sf.Type.Elem()
	}
	return sf.Type
}

func (q *Query) column(t *sql.SelectTable, column string, typ reflect.Type) int {
	c := t.C(column)
	if i, ok := q.seen[c]; ok {
		return i
	}
	q.seen[c] = len(q.columns)
	q.Selector.AppendSelect(c)
	q.columns = append(q.columns, typ)
	return len(q.columns) - 1
}

// addColumns selects o's fields from table t, joining its edges' tables
// with their row rules in the join condition.
func (s *Schema) addColumns(q *Query, b *sql.DialectBuilder, v *viewer.Viewer, o *Object, t *sql.SelectTable) {
	for i := range o.out {
		out := &o.out[i]
		switch {
		case out.field != nil:
			out.column = q.column(t, out.field.column, out.field.elem)
		case out.child != nil:
			e := out.edge
			target := out.child.typ
			jt := b.Table(target.Table).As(fmt.Sprintf("t%d", q.next))
			q.next++
			on := sql.ColumnsEQ(jt.C("id"), t.C(e.Column))
			if target.Rule != nil {
				rs := b.Select().From(jt)
				target.Rule(v)(rs)
				if p := rs.P(); p != nil {
					on = sql.And(on, p)
				}
			}
			q.Selector.LeftJoin(jt).OnP(on)
			out.column = q.column(jt, "id", uuidType)
			s.addColumns(q, b, v, out.child, jt)
		}
	}
}

// ErrIrregular: a row does not fit the selection (a non-null value came
// back NULL, e.g. a joined row its rule hides). The resolvers answer such a
// read with the errors they give; the direct read does not try to.
var ErrIrregular = errors.New("direct: a non-null value is missing")

// Rows are the rows read by a Query.
type Rows struct {
	q    *Query
	vals [][]reflect.Value
}

// Scanner is what Read needs of *sql.Rows.
type Scanner interface {
	Next() bool
	Scan(...any) error
	Err() error
}

// Read scans every row and checks the non-null fields.
func (q *Query) Read(rows Scanner) (*Rows, error) {
	r := &Rows{q: q}
	n := len(q.columns)
	// One **T per column: Scan sets a new *T in it for each row (nil for NULL).
	holders := make([]reflect.Value, n)
	dest := make([]any, n)
	for i, typ := range q.columns {
		holders[i] = reflect.New(reflect.PointerTo(typ))
		dest[i] = holders[i].Interface()
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		vals := make([]reflect.Value, n)
		for i, h := range holders {
			vals[i] = reflect.ValueOf(h.Elem().Interface())
		}
		if !regular(q.root, vals) {
			return nil, ErrIrregular
		}
		r.vals = append(r.vals, vals)
	}
	return r, rows.Err()
}

func regular(o *Object, vals []reflect.Value) bool {
	for _, out := range o.out {
		switch {
		case out.field != nil:
			if out.nonNull && !out.field.zero && vals[out.column].IsNil() {
				return false
			}
		case out.child != nil:
			if vals[out.column].IsNil() {
				if out.nonNull {
					return false
				}
				continue
			}
			if !regular(out.child, vals) {
				return false
			}
		}
	}
	return true
}

// Len is the number of rows.
func (r *Rows) Len() int { return len(r.vals) }

// Truncate keeps the first n rows.
func (r *Rows) Truncate(n int) {
	if n < len(r.vals) {
		r.vals = r.vals[:n]
	}
}

// Root is the value of a root column given to Select as extra (or "id").
func (r *Rows) Root(i int, column string) any {
	return r.vals[i][r.q.rootCols[column]].Elem().Interface()
}

// Write writes row i as the JSON object of the selection.
func (r *Rows) Write(w *bytes.Buffer, i int) {
	writeObject(w, r.q.root, r.vals[i])
}

func writeObject(w *bytes.Buffer, o *Object, vals []reflect.Value) {
	io.WriteString(w, "{")
	for k, out := range o.out {
		if k > 0 {
			io.WriteString(w, ",")
		}
		graphql.MarshalString(out.key).MarshalGQL(w)
		io.WriteString(w, ":")
		switch {
		case out.typename:
			graphql.MarshalString(o.typ.Name).MarshalGQL(w)
		case out.field != nil:
			v := vals[out.column]
			switch {
			case !v.IsNil():
				out.field.write(w, v.Elem())
			case out.field.zero:
				out.field.write(w, reflect.Zero(out.field.elem))
			default:
				graphql.Null.MarshalGQL(w)
			}
		case out.child != nil:
			if vals[out.column].IsNil() {
				graphql.Null.MarshalGQL(w)
				continue
			}
			writeObject(w, out.child, vals)
		}
	}
	io.WriteString(w, "}")
}

// Fields are the readable scalar fields of a type and its to-one edges
// (field name → target type), for tests that select everything.
func (s *Schema) Fields(typeName string) (scalars []string, edges map[string]string) {
	t := s.types[typeName]
	if t == nil {
		return nil, nil
	}
	for name := range t.fields {
		scalars = append(scalars, name)
	}
	slices.Sort(scalars)
	edges = map[string]string{}
	for name, e := range t.Edges {
		edges[name] = e.Target
	}
	return scalars, edges
}
