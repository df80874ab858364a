package direct

import (
	"bytes"
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"passerelle/viewer"
)

// Object is a compiled selection on an object type. Select places it in a
// statement (its columns' positions are recorded in it): an Object serves
// one Query.
type Object struct {
	typ *Type
	out []output
	// Set by Select: the position of the key and of the kept columns.
	id   int
	keep map[string]int
}

// output is one key of the object's JSON, in the order of the selection.
type output struct {
	key      string // response key (alias)
	name     string // field name
	typename bool
	field    *field
	computed *Computed
	columns  []int   // a computed field's columns
	child    *Object // an edge, with edge
	edge     Edge
	column   int // a field's column, or a to-one edge target's key
	nonNull  bool
}

// Compile compiles a selection on the named type; ok is false when some
// part of it is not readable here.
func (s *Schema) Compile(op *graphql.OperationContext, typeName string, sel ast.SelectionSet) (*Object, bool) {
	return s.compile(op, typeName, sel, 0)
}

func (s *Schema) compile(op *graphql.OperationContext, typeName string, sel ast.SelectionSet, depth int) (*Object, bool) {
	t := s.types[typeName]
	if t == nil {
		return nil, false
	}
	o := &Object{typ: t}
	for _, cf := range graphql.CollectFields(op, sel, t.implementors) {
		if !Plain(cf) {
			return nil, false
		}
		out := output{key: cf.Alias, name: cf.Name}
		switch e, edge := t.Edges[cf.Name]; {
		case cf.Name == "__typename":
			out.typename = true
		case edge:
			if e.Many && depth > 0 {
				return nil, false
			}
			child, ok := s.compile(op, e.Target, cf.Selections, depth+1)
			if !ok {
				return nil, false
			}
			out.child, out.edge = child, e
			out.nonNull = cf.Definition != nil && cf.Definition.Type.NonNull
		case len(cf.Selections) > 0:
			return nil, false
		case t.Computed[cf.Name].Write != nil:
			c := t.Computed[cf.Name]
			out.computed = &c
		case t.fields[cf.Name] != nil:
			out.field = t.fields[cf.Name]
			out.nonNull = out.field.nonNull
		default:
			return nil, false
		}
		o.out = append(o.out, out)
	}
	return o, true
}

// Guarded are the directive-guarded edges selected on objects of the named
// type, anywhere in the selection (field names, each once).
func (o *Object) Guarded(typeName string) []string {
	var names []string
	var walk func(o *Object)
	walk = func(o *Object) {
		for _, out := range o.out {
			if out.child == nil {
				continue
			}
			if o.typ.Name == typeName && out.edge.Directive != "" && !slices.Contains(names, out.name) {
				names = append(names, out.name)
			}
			walk(out.child)
		}
	}
	walk(o)
	return names
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

// Plain: a selected field without arguments, not deferred, with no
// directive but @skip and @include (which CollectFields has applied).
func Plain(cf graphql.CollectedField) bool {
	if len(cf.Deferrables) > 0 || len(cf.Arguments) > 0 {
		return false
	}
	for _, d := range cf.Directives {
		if d.Name != "skip" && d.Name != "include" {
			return false
		}
	}
	return true
}

// Query is the statement reading a compiled object and its to-one edges:
// the root table is aliased t0, so that the caller adds its paging
// predicates and order to Selector. Its lists are read by Read.
type Query struct {
	Selector *sql.Selector
	Root     *sql.SelectTable
	schema   *Schema
	viewer   *viewer.Viewer
	columns  []reflect.Type // scanned Go type of each selected column
	seen     map[string]int // "alias.column" → its index in columns
	rootCols map[string]int
	root     *Object
	next     int // next table alias
}

// Select builds the statement reading o for the viewer v, with the root
// columns extra (read whether selected or not, see Rows.Root).
func (s *Schema) Select(o *Object, v *viewer.Viewer, extra ...string) *Query {
	return s.selectRows(o, v, true, extra...)
}

// selectRows is Select, with the root type's row rule or without it (a
// list whose rule its parent's implies).
func (s *Schema) selectRows(o *Object, v *viewer.Viewer, withRule bool, extra ...string) *Query {
	b := sql.Dialect(s.dialect)
	root := b.Table(o.typ.Table).As("t0")
	q := &Query{Selector: b.Select().From(root), Root: root, schema: s, viewer: v,
		rootCols: map[string]int{}, seen: map[string]int{}, root: o, next: 1}
	if withRule && o.typ.Rule != nil {
		o.typ.Rule(v)(q.Selector)
	}
	for _, c := range append([]string{"id"}, extra...) {
		q.rootCols[c] = q.column(root, c, columnType(o.typ, c))
	}
	q.addColumns(b, o, root)
	return q
}

// columnType is the Go type a column of t is scanned into.
func columnType(t *Type, column string) reflect.Type {
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

// addColumns selects o's fields from table t, joining its to-one edges'
// tables with their row rules in the join condition.
func (q *Query) addColumns(b *sql.DialectBuilder, o *Object, t *sql.SelectTable) {
	o.id = q.column(t, "id", uuidType)
	o.keep = map[string]int{}
	if o.guarded() { // the caller decides on them (Rows.Each); else not read
		for _, c := range o.typ.Keep {
			o.keep[c] = q.column(t, c, columnType(o.typ, c))
		}
	}
	for i := range o.out {
		out := &o.out[i]
		switch {
		case out.field != nil:
			out.column = q.column(t, out.field.column, out.field.elem)
		case out.computed != nil:
			out.columns = nil
			for _, c := range out.computed.Columns {
				out.columns = append(out.columns, q.column(t, c, columnType(o.typ, c)))
			}
		case out.child != nil && !out.edge.Many:
			target := out.child.typ
			jt := b.Table(target.Table).As(fmt.Sprintf("t%d", q.next))
			q.next++
			on := sql.ColumnsEQ(jt.C("id"), t.C(out.edge.Column))
			if out.edge.Reverse {
				on = sql.ColumnsEQ(jt.C(out.edge.Column), t.C("id"))
			}
			if target.Rule != nil && !out.edge.ruleImplied(q.viewer) {
				rs := b.Select().From(jt)
				target.Rule(q.viewer)(rs)
				if p := rs.P(); p != nil {
					on = sql.And(on, p)
				}
			}
			q.Selector.LeftJoin(jt).OnP(on)
			q.addColumns(b, out.child, jt)
			out.column = out.child.id
		}
	}
}

// ErrIrregular: a row does not fit the selection (a non-null value came
// back NULL, e.g. a joined row its rule hides). The resolvers answer such a
// read with the errors they give; the direct read does not try to.
var ErrIrregular = errors.New("direct: a non-null value is missing")

// Querier runs a statement (ent's Client.QueryContext).
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error)
}

// Rows are the rows read by a Query, with the lists of the root's rows.
type Rows struct {
	q     *Query
	vals  [][]reflect.Value
	lists map[*output]*list
}

// list is a to-many edge's rows, by the key of the row they belong to.
type list struct {
	rows     *Rows
	byParent map[uuid.UUID][]int
}

// Read runs the statement, then one per list of the root object for the
// rows read, and checks the non-null fields.
func (q *Query) Read(ctx context.Context, db Querier) (*Rows, error) {
	query, args := q.Selector.Query()
	rows, err := q.scan(ctx, db, query, args)
	if err != nil {
		return nil, err
	}
	for i := range q.root.out {
		out := &q.root.out[i]
		if out.child == nil || !out.edge.Many {
			continue
		}
		l, err := q.readList(ctx, db, rows, out)
		if err != nil {
			return nil, err
		}
		if rows.lists == nil {
			rows.lists = map[*output]*list{}
		}
		rows.lists[out] = l
	}
	return rows, nil
}

// readList reads a list edge for the rows' objects, ordered by key.
func (q *Query) readList(ctx context.Context, db Querier, parents *Rows, out *output) (*list, error) {
	l := &list{byParent: map[uuid.UUID][]int{}}
	keys := make([]any, 0, len(parents.vals))
	for _, vals := range parents.vals {
		keys = append(keys, vals[q.root.id].Elem().Interface())
	}
	// The keys are of rows that passed the parent's rule.
	cq := q.schema.selectRows(out.child, q.viewer, !out.edge.ruleImplied(q.viewer), out.edge.Column)
	if len(keys) == 0 {
		l.rows = &Rows{q: cq}
		return l, nil
	}
	cq.Selector.Where(sql.In(cq.Root.C(out.edge.Column), keys...)).OrderBy(cq.Root.C(out.edge.Column), cq.Root.C("id"))
	query, args := cq.Selector.Query()
	rows, err := cq.scan(ctx, db, query, args)
	if err != nil {
		return nil, err
	}
	l.rows = rows
	for i := range rows.vals {
		parent := rows.Root(i, out.edge.Column).(uuid.UUID)
		l.byParent[parent] = append(l.byParent[parent], i)
	}
	return l, nil
}

func (q *Query) scan(ctx context.Context, db Querier, query string, args []any) (*Rows, error) {
	sqlRows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer sqlRows.Close()
	r := &Rows{q: q}
	n := len(q.columns)
	// One **T per column: Scan sets a new *T in it for each row (nil for NULL).
	holders := make([]reflect.Value, n)
	dest := make([]any, n)
	for i, typ := range q.columns {
		holders[i] = reflect.New(reflect.PointerTo(typ))
		dest[i] = holders[i].Interface()
	}
	for sqlRows.Next() {
		if err := sqlRows.Scan(dest...); err != nil {
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
	return r, sqlRows.Err()
}

func regular(o *Object, vals []reflect.Value) bool {
	for _, out := range o.out {
		switch {
		case out.field != nil:
			if out.nonNull && !out.field.zero && vals[out.column].IsNil() {
				return false
			}
		case out.child != nil && !out.edge.Many:
			if vals[out.column].IsNil() {
				if out.nonNull || out.edge.Always {
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

// Record is one object read: its key and kept columns (Type.Keep).
type Record struct {
	o    *Object
	vals []reflect.Value
}

// ID is the object's key.
func (rec Record) ID() uuid.UUID { return rec.vals[rec.o.id].Elem().Interface().(uuid.UUID) }

// Value is a kept column's value (nil for NULL).
func (rec Record) Value(column string) any {
	i, ok := rec.o.keep[column]
	if !ok {
		panic("direct: column " + column + " is not kept")
	}
	if v := rec.vals[i]; !v.IsNil() {
		return v.Elem().Interface()
	}
	return nil
}

// Each calls fn for every object of the named type in the rows (at any
// depth, the lists' too), with the directive-guarded edges selected on it
// (field names, once per selection: a field selected under two aliases
// runs its directive twice); the first error stops it.
func (r *Rows) Each(typeName string, fn func(rec Record, guarded []string) error) error {
	for _, vals := range r.vals {
		if err := r.each(r.q.root, vals, typeName, fn); err != nil {
			return err
		}
	}
	for _, l := range r.lists {
		if err := l.rows.Each(typeName, fn); err != nil {
			return err
		}
	}
	return nil
}

// guarded reports whether o selects a directive-guarded edge.
func (o *Object) guarded() bool {
	return slices.ContainsFunc(o.out, func(out output) bool { return out.child != nil && out.edge.Directive != "" })
}

func (r *Rows) each(o *Object, vals []reflect.Value, typeName string, fn func(Record, []string) error) error {
	if o.typ.Name == typeName {
		var guarded []string
		for _, out := range o.out {
			if out.child != nil && out.edge.Directive != "" {
				guarded = append(guarded, out.name)
			}
		}
		if err := fn(Record{o: o, vals: vals}, guarded); err != nil {
			return err
		}
	}
	for _, out := range o.out {
		if out.child != nil && !out.edge.Many && !vals[out.column].IsNil() {
			if err := r.each(out.child, vals, typeName, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Write writes row i as the JSON object of the selection.
func (r *Rows) Write(w *bytes.Buffer, i int) {
	r.writeObject(w, r.q.root, r.vals[i])
}

func (r *Rows) writeObject(w *bytes.Buffer, o *Object, vals []reflect.Value) {
	io.WriteString(w, "{")
	for k := range o.out {
		out := &o.out[k]
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
		case out.computed != nil:
			values := make([]any, len(out.columns))
			for j, c := range out.columns {
				if v := vals[c]; !v.IsNil() {
					values[j] = v.Elem().Interface()
				}
			}
			out.computed.Write(w, values)
		case out.edge.Many:
			l := r.lists[out]
			io.WriteString(w, "[")
			for j, ci := range l.byParent[vals[o.id].Elem().Interface().(uuid.UUID)] {
				if j > 0 {
					io.WriteString(w, ",")
				}
				l.rows.writeObject(w, out.child, l.rows.vals[ci])
			}
			io.WriteString(w, "]")
		case out.child != nil:
			if vals[out.column].IsNil() {
				graphql.Null.MarshalGQL(w)
				continue
			}
			r.writeObject(w, out.child, vals)
		}
	}
	io.WriteString(w, "}")
}

// Fields are the readable scalar and computed fields of a type and its
// edges, for tests that select everything.
func (s *Schema) Fields(typeName string) (scalars []string, edges map[string]Edge) {
	t := s.types[typeName]
	if t == nil {
		return nil, nil
	}
	for name := range t.fields {
		scalars = append(scalars, name)
	}
	for name := range t.Computed {
		scalars = append(scalars, name)
	}
	slices.Sort(scalars)
	return scalars, t.Edges
}
