package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"

	"entgo.io/contrib/entgql"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"passerelle/ent"
	"passerelle/ent/schema/rule"
	"passerelle/graph/direct"
	"passerelle/graph/scalar"
	"passerelle/viewer"
)

// NewDirect describes, for package direct, the object types a unit's inbox
// page shows, with the row rules ent's privacy layer applies to them and
// the to-one edges that may be joined.
func NewDirect(schema *ast.Schema, dialect string) (*direct.Schema, error) {
	return direct.New(schema, dialect,
		&direct.Type{Name: "Dispatch", Table: "dispatches", Model: ent.Dispatch{},
			Rule: func(v *viewer.Viewer) func(*entsql.Selector) { return rule.DispatchVisible(v) },
			Edges: map[string]direct.Edge{
				"request": {Target: "AdmissionRequest", Column: "request_id"},
				"unit":    {Target: "Unit", Column: "unit_id"},
			}},
		&direct.Type{Name: "AdmissionRequest", Table: "admission_requests", Model: ent.AdmissionRequest{},
			Rule: func(v *viewer.Viewer) func(*entsql.Selector) { return rule.RequestVisible(v) },
			Edges: map[string]direct.Edge{
				"patient":         {Target: "Patient", Column: "patient_id"},
				"originStructure": {Target: "Structure", Column: "origin_structure_id"},
				"originUnit":      {Target: "Unit", Column: "origin_unit_id"},
			}},
		&direct.Type{Name: "Patient", Table: "patients", Model: ent.Patient{},
			Rule: func(v *viewer.Viewer) func(*entsql.Selector) { return rule.PatientVisible(v) }},
		// Units and structures: every signed-in user reads them (their policies).
		&direct.Type{Name: "Unit", Table: "units", Model: ent.Unit{},
			Edges: map[string]direct.Edge{"structure": {Target: "Structure", Column: "structure_id"}}},
		&direct.Type{Name: "Structure", Table: "structures", Model: ent.Structure{}},
	)
}

// DirectReads serves the inbox root field through package direct when it
// can (see directInbox), and lets the resolvers answer otherwise. It runs
// innermost of the root-field middleware: the access gate, the limits and
// the metrics apply to both paths alike.
func (r *Resolver) DirectReads(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if r.Direct == nil || fc == nil || fc.Field.Name != "inbox" {
		return next(ctx)
	}
	m, err := r.directInbox(ctx, fc.Field)
	switch {
	case errors.Is(err, errDecline), errors.Is(err, direct.ErrIrregular):
		return next(ctx)
	case err != nil:
		graphql.AddError(ctx, err)
		return graphql.Null
	}
	return m
}

// errDecline: the direct path does not serve this selection or these
// arguments exactly; the resolvers do, with their errors where there are.
var errDecline = errors.New("declined")

// directInbox is Query.inbox (the resolver r.inbox, entgql's Paginate and
// gqlgen's marshalling) for the forward pages of the default order: the
// same count through ent, one joined statement for the page, the JSON
// written directly.
func (r *Resolver) directInbox(ctx context.Context, field graphql.CollectedField) (graphql.Marshaler, error) {
	op := graphql.GetOperationContext(ctx)
	v := viewer.FromContext(ctx)
	if op == nil || v == nil || viewer.IsSystem(ctx) {
		return nil, errDecline
	}
	args := field.ArgumentMap(op.Variables)
	for _, name := range []string{"before", "last", "where"} {
		if args[name] != nil {
			return nil, errDecline
		}
	}
	rawUnit, _ := args["unitId"].(string)
	unitID, err := scalar.UnmarshalID(rawUnit)
	if err != nil {
		return nil, errDecline
	}
	var after *entgql.Cursor[uuid.UUID]
	if a := args["after"]; a != nil {
		c, err := scalar.UnmarshalCursor(a)
		if err != nil {
			return nil, errDecline
		}
		after = &c
	}
	var first *int
	if f := args["first"]; f != nil {
		n, ok := intArg(f)
		if !ok {
			return nil, errDecline
		}
		first = &n
	}
	first, _, err = r.Limits.page(first, nil)
	if err != nil || *first == 0 {
		return nil, errDecline
	}
	receiver := rule.AsReceiverOf(v, unitID)
	if receiver == nil {
		return nil, errDecline
	}
	page, err := r.compileInbox(op, field)
	if err != nil {
		return nil, err
	}

	rctx := viewer.NewContext(ctx, receiver)
	total := 0
	if page.totalCount {
		if total, err = r.Client.Dispatch.Query().Count(rctx); err != nil {
			return nil, err
		}
	}
	q := r.Direct.Select(page.node, receiver, "sent_at")
	preds, err := entgql.MultiCursorsPredicate(after, nil, &entgql.MultiCursorsOptions{
		FieldID: "id", DirectionID: entgql.OrderDirectionAsc,
		Fields: []string{"sent_at"}, Directions: []entgql.OrderDirection{entgql.OrderDirectionDesc},
	})
	if err != nil {
		return nil, errDecline
	}
	for _, p := range preds {
		p(q.Selector)
	}
	q.Selector.OrderBy(entsql.Desc(q.Root.C("sent_at")), q.Root.C("id")).Limit(*first + 1)
	rows, err := q.Read(rctx, r.Client)
	if err != nil {
		return nil, err
	}
	hasNext := rows.Len() == *first+1
	rows.Truncate(*first)
	if total == 0 {
		total = rows.Len()
	}
	cursors := make([]entgql.Cursor[uuid.UUID], rows.Len())
	for i := range cursors {
		cursors[i] = entgql.Cursor[uuid.UUID]{ID: rows.Root(i, "id").(uuid.UUID), Value: []any{rows.Root(i, "sent_at")}}
	}
	var buf bytes.Buffer
	page.write(&buf, rows, cursors, total, hasNext, after != nil)
	return graphql.WriterFunc(func(w io.Writer) { _, _ = w.Write(buf.Bytes()) }), nil
}

// intArg reads an Int argument: a literal (int64) or a variable (decoded
// JSON: json.Number or float64).
func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return int(n), true
		}
	case json.Number:
		i, err := n.Int64()
		if err == nil && i >= math.MinInt32 && i <= math.MaxInt32 {
			return int(i), true
		}
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt32 && n <= math.MaxInt32 {
			return int(n), true
		}
	}
	return 0, false
}

// connectionOut is one key of a DispatchConnection (or of its PageInfo or
// DispatchEdge objects).
type connectionOut struct {
	key  string
	name string // field name
	sub  []connectionOut
}

// inboxPage is a compiled selection on DispatchConnection.
type inboxPage struct {
	out        []connectionOut
	node       *direct.Object
	totalCount bool
}

// compileInbox compiles the selection of a DispatchConnection; errDecline
// for anything but totalCount, pageInfo and edges { cursor node }, with
// edges selected once.
func (r *Resolver) compileInbox(op *graphql.OperationContext, field graphql.CollectedField) (*inboxPage, error) {
	p := &inboxPage{}
	edges := 0
	var walk func(sel ast.SelectionSet, typ string, allowed map[string]bool) ([]connectionOut, error)
	walk = func(sel ast.SelectionSet, typ string, allowed map[string]bool) ([]connectionOut, error) {
		var outs []connectionOut
		for _, cf := range graphql.CollectFields(op, sel, []string{typ}) {
			if len(cf.Deferrables) > 0 || len(cf.Arguments) > 0 || !(cf.Name == "__typename" || allowed[cf.Name]) {
				return nil, errDecline
			}
			for _, d := range cf.Directives {
				if d.Name != "skip" && d.Name != "include" {
					return nil, errDecline
				}
			}
			o := connectionOut{key: cf.Alias, name: cf.Name}
			var err error
			switch cf.Name {
			case "totalCount":
				p.totalCount = true
			case "pageInfo":
				o.sub, err = walk(cf.Selections, "PageInfo", map[string]bool{"hasNextPage": true, "hasPreviousPage": true, "startCursor": true, "endCursor": true})
			case "edges":
				edges++
				o.sub, err = walk(cf.Selections, "DispatchEdge", map[string]bool{"cursor": true, "node": true})
			case "node":
				if p.node != nil {
					return nil, errDecline
				}
				var ok bool
				if p.node, ok = r.Direct.Compile(op, "Dispatch", cf.Selections); !ok {
					return nil, errDecline
				}
			}
			if err != nil {
				return nil, err
			}
			outs = append(outs, o)
		}
		return outs, nil
	}
	out, err := walk(field.Selections, "DispatchConnection", map[string]bool{"totalCount": true, "pageInfo": true, "edges": true})
	if err != nil {
		return nil, err
	}
	// Without edges, Paginate answers from the count alone; edges selected
	// twice (aliases) would share one node selection here.
	if edges != 1 {
		return nil, errDecline
	}
	p.out = out
	if p.node == nil {
		p.node, _ = r.Direct.Empty("Dispatch")
	}
	return p, nil
}

// write writes the connection as gqlgen would marshal the *ent.DispatchConnection.
func (p *inboxPage) write(w *bytes.Buffer, rows *direct.Rows, cursors []entgql.Cursor[uuid.UUID], total int, hasNext, hasPrevious bool) {
	var cursorAt = func(i int) graphql.Marshaler {
		if i < 0 || i >= len(cursors) {
			return graphql.Null
		}
		return cursors[i]
	}
	var object func(outs []connectionOut, typ string, edge int)
	object = func(outs []connectionOut, typ string, edge int) {
		io.WriteString(w, "{")
		for k, o := range outs {
			if k > 0 {
				io.WriteString(w, ",")
			}
			graphql.MarshalString(o.key).MarshalGQL(w)
			io.WriteString(w, ":")
			switch o.name {
			case "__typename":
				graphql.MarshalString(typ).MarshalGQL(w)
			case "totalCount":
				graphql.MarshalInt(total).MarshalGQL(w)
			case "pageInfo":
				object(o.sub, "PageInfo", -1)
			case "hasNextPage":
				graphql.MarshalBoolean(hasNext).MarshalGQL(w)
			case "hasPreviousPage":
				graphql.MarshalBoolean(hasPrevious).MarshalGQL(w)
			case "startCursor":
				cursorAt(0).MarshalGQL(w)
			case "endCursor":
				cursorAt(len(cursors) - 1).MarshalGQL(w)
			case "edges":
				io.WriteString(w, "[")
				for i := range cursors {
					if i > 0 {
						io.WriteString(w, ",")
					}
					object(o.sub, "DispatchEdge", i)
				}
				io.WriteString(w, "]")
			case "cursor":
				cursors[edge].MarshalGQL(w)
			case "node":
				rows.Write(w, edge)
			}
		}
		io.WriteString(w, "}")
	}
	object(p.out, "DispatchConnection", -1)
}
