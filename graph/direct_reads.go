package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"sync/atomic"
	"time"

	"entgo.io/contrib/entgql"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/adminsocialsection"
	"passerelle/ent/careprojectsection"
	"passerelle/ent/medicalsection"
	"passerelle/ent/predicate"
	"passerelle/ent/schema/rule"
	"passerelle/enums"
	"passerelle/graph/direct"
	"passerelle/graph/generated"
	"passerelle/graph/scalar"
	"passerelle/viewer"
	"passerelle/workflow"
)

// NewDirect describes, for package direct, the object types the inbox and
// the requests' dashboard show: their tables, the row rules ent's privacy
// layer applies to them, the edges that may be read with them, and the
// fields computed by resolvers from a row's own columns.
func NewDirect(schema *ast.Schema, dialect string) (*direct.Schema, error) {
	section := func(name, table string, model any, visible func(*viewer.Viewer) func(*entsql.Selector)) *direct.Type {
		return &direct.Type{Name: name, Table: table, Model: model, Rule: visible}
	}
	return direct.New(schema, dialect,
		&direct.Type{Name: "Dispatch", Table: "dispatches", Model: ent.Dispatch{},
			Resolvers: reflect.TypeFor[generated.DispatchResolver](),
			Rule:      func(v *viewer.Viewer) func(*entsql.Selector) { return rule.DispatchVisible(v) },
			Edges: map[string]direct.Edge{
				// A dispatch the viewer sees has a request the viewer
				// sees: the two rules share their sides
				// (rule.TestDispatchRequestRuleIsImplied).
				"request": {Target: "AdmissionRequest", Column: "request_id", RuleImplied: true},
				"unit":    {Target: "Unit", Column: "unit_id"},
			},
			Computed: map[string]direct.Computed{
				"late":    waitingFor(workflow.LateAfter),
				"overdue": waitingFor(workflow.OverdueAfter),
			}},
		&direct.Type{Name: "AdmissionRequest", Table: "admission_requests", Model: ent.AdmissionRequest{},
			Resolvers: reflect.TypeFor[generated.AdmissionRequestResolver](),
			Rule:      func(v *viewer.Viewer) func(*entsql.Selector) { return rule.RequestVisible(v) },
			// The profile rule of the sections reads the origin (actionsOn).
			Keep: []string{"origin_structure_id", "origin_unit_id"},
			Edges: map[string]direct.Edge{
				// rule.PatientVisible is "has a visible request": this
				// request's patient is visible once the request passed
				// rule.RequestVisible (TestPatientRuleIsTheRequestRule).
				"patient":         {Target: "Patient", Column: "patient_id", RuleImplied: true},
				"originStructure": {Target: "Structure", Column: "origin_structure_id"},
				"originUnit":      {Target: "Unit", Column: "origin_unit_id"},
				// For a viewer of the requesting side only, a visible
				// request's sections and dispatches are visible
				// (rule.TestRequestingSideRulesAreImplied): the prescriber's
				// dashboard reads them without a sub-query per row. Every
				// request has its three sections: one its rule hides from a
				// receiver may be one a closed dispatch had received, which
				// the resolvers serve (Always).
				"medical": {Target: "MedicalSection", Column: "request_id", Reverse: true, Directive: "section", Always: true,
					RuleImpliedFor: rule.RequestingSideOnly},
				"careProject": {Target: "CareProjectSection", Column: "request_id", Reverse: true, Directive: "section", Always: true,
					RuleImpliedFor: rule.RequestingSideOnly},
				"adminSocial": {Target: "AdminSocialSection", Column: "request_id", Reverse: true, Directive: "section", Always: true,
					RuleImpliedFor: rule.RequestingSideOnly},
				"dispatches": {Target: "Dispatch", Column: "request_id", Many: true, RuleImpliedFor: rule.RequestingSideOnly},
			}},
		&direct.Type{Name: "Patient", Table: "patients", Model: ent.Patient{},
			Rule: func(v *viewer.Viewer) func(*entsql.Selector) { return rule.PatientVisible(v) }},
		section("MedicalSection", "medical_sections", ent.MedicalSection{}, func(v *viewer.Viewer) func(*entsql.Selector) {
			return rule.SectionVisible[predicate.MedicalSection](v, medicalsection.HasRequestWith)
		}),
		section("CareProjectSection", "care_project_sections", ent.CareProjectSection{}, func(v *viewer.Viewer) func(*entsql.Selector) {
			return rule.SectionVisible[predicate.CareProjectSection](v, careprojectsection.HasRequestWith)
		}),
		section("AdminSocialSection", "admin_social_sections", ent.AdminSocialSection{}, func(v *viewer.Viewer) func(*entsql.Selector) {
			return rule.SectionVisible[predicate.AdminSocialSection](v, adminsocialsection.HasRequestWith)
		}),
		// Units and structures: every signed-in user reads them (their policies).
		&direct.Type{Name: "Unit", Table: "units", Model: ent.Unit{},
			Resolvers: reflect.TypeFor[generated.UnitResolver](),
			Edges:     map[string]direct.Edge{"structure": {Target: "Structure", Column: "structure_id"}}},
		&direct.Type{Name: "Structure", Table: "structures", Model: ent.Structure{},
			Resolvers: reflect.TypeFor[generated.StructureResolver]()},
	)
}

// waitingFor is Dispatch.late and Dispatch.overdue (the dispatch resolvers):
// still waiting for an answer, sent at least after ago.
func waitingFor(after time.Duration) direct.Computed {
	return direct.Computed{Columns: []string{"status", "sent_at"}, Write: func(w *bytes.Buffer, values []any) {
		status, _ := values[0].(enums.DispatchStatus)
		sent, _ := values[1].(time.Time)
		graphql.MarshalBoolean(workflow.WaitingLonger(status, sent, after)).MarshalGQL(w)
	}}
}

// sectionFields are the request's fields behind the @section rule.
var sectionFields = map[string]enums.SectionKind{
	"medical":     enums.SectionKindMedical,
	"careProject": enums.SectionKindCareProject,
	"adminSocial": enums.SectionKindAdminSocial,
}

// directRoot is a root connection field the direct reads serve: forward
// pages in its default order (newest first by column, then by key).
type directRoot struct {
	conn, edge, node string // GraphQL types
	column           string // order, descending
	// viewer is the viewer the rows are read as, from the field's
	// arguments; errDecline when the resolver would answer an error or
	// read otherwise (other arguments).
	viewer func(v *viewer.Viewer, args map[string]any) (*viewer.Viewer, error)
	// count counts the rows as the resolver does, ctx carrying the viewer.
	count func(ctx context.Context, c *ent.Client) (int, error)
	// lastSize is the size of the last page rendered, the capacity the
	// next one starts with: grown by doubling from nothing, a 20 KB page
	// allocated and copied about twice its size.
	lastSize *atomic.Int64
}

// maxPageHint bounds the capacity a page starts with.
const maxPageHint = 1 << 20

var directRoots = map[string]directRoot{
	// Query.inbox (r.inbox): read as the unit's receiver only.
	"inbox": {conn: "DispatchConnection", edge: "DispatchEdge", node: "Dispatch", column: "sent_at", lastSize: new(atomic.Int64),
		viewer: func(v *viewer.Viewer, args map[string]any) (*viewer.Viewer, error) {
			if args["where"] != nil {
				return nil, errDecline
			}
			raw, _ := args["unitId"].(string)
			unitID, err := scalar.UnmarshalID(raw)
			if err != nil {
				return nil, errDecline
			}
			if receiver := rule.AsReceiverOf(v, unitID); receiver != nil {
				return receiver, nil
			}
			return nil, errDecline
		},
		count: func(ctx context.Context, c *ent.Client) (int, error) { return c.Dispatch.Query().Count(ctx) }},
	// Query.admissionRequests without orderBy: newest first.
	"admissionRequests": {conn: "AdmissionRequestConnection", edge: "AdmissionRequestEdge", node: "AdmissionRequest", column: "created_at", lastSize: new(atomic.Int64),
		viewer: func(v *viewer.Viewer, args map[string]any) (*viewer.Viewer, error) {
			if args["where"] != nil || args["orderBy"] != nil {
				return nil, errDecline
			}
			return v, nil
		},
		count: func(ctx context.Context, c *ent.Client) (int, error) { return c.AdmissionRequest.Query().Count(ctx) }},
}

// DirectReads serves the root fields of directRoots through package direct
// when it can (see direct), and lets the resolvers answer otherwise. It runs
// innermost of the root-field middleware: the access gate, the access log
// (LogReads), the limits and the metrics apply to both paths alike.
func (r *Resolver) DirectReads(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if r.Direct == nil || fc == nil {
		return next(ctx)
	}
	root, ok := directRoots[fc.Field.Name]
	if !ok {
		return next(ctx)
	}
	m, err := r.direct(ctx, root, fc.Field)
	switch {
	case errors.Is(err, errDecline), errors.Is(err, direct.ErrIrregular):
		return next(ctx)
	case err != nil:
		// At the field's path, as a resolver's error (the presenter maps it).
		graphql.AddError(ctx, gqlerror.WrapPath(ast.Path{ast.PathName(fc.Field.Alias)}, err))
		return graphql.Null
	}
	return m
}

// errDecline: the direct path does not serve this selection or these
// arguments exactly; the resolvers do, with their errors where there are.
var errDecline = errors.New("declined")

// direct is a root connection field as its resolver, entgql's Paginate and
// gqlgen's marshalling give it: the same count through ent, one joined
// statement for the page (and one per list of its nodes), the section rule
// decided for every request read before anything is written, the JSON
// written directly.
func (r *Resolver) direct(ctx context.Context, root directRoot, field graphql.CollectedField) (graphql.Marshaler, error) {
	op := graphql.GetOperationContext(ctx)
	v := viewer.FromContext(ctx)
	if op == nil || v == nil || viewer.IsSystem(ctx) {
		return nil, errDecline
	}
	args := field.ArgumentMap(op.Variables)
	if args["before"] != nil || args["last"] != nil {
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
		// As the generated argument code reads it.
		n, err := graphql.UnmarshalInt(f)
		if err != nil {
			return nil, errDecline
		}
		first = &n
	}
	first, _, err := r.Limits.page(first, nil)
	if err != nil || *first == 0 {
		return nil, errDecline
	}
	reader, err := root.viewer(v, args)
	if err != nil {
		return nil, err
	}
	page, err := r.compilePage(op, root, field)
	if err != nil {
		return nil, err
	}
	// A section none of the viewer's profiles reads: the resolvers answer
	// (FORBIDDEN at each path), without reading the page here first.
	for _, name := range page.node.Guarded("AdmissionRequest") {
		if !authz.AnyProfileAllows(v, sectionRead[sectionFields[name]]) {
			return nil, errDecline
		}
	}

	rctx := viewer.NewContext(ctx, reader)
	total := 0
	if page.totalCount {
		if total, err = root.count(rctx, r.Client); err != nil {
			return nil, err
		}
	}
	q := r.Direct.Select(page.node, reader, root.column)
	preds, err := entgql.MultiCursorsPredicate(after, nil, &entgql.MultiCursorsOptions{
		FieldID: "id", DirectionID: entgql.OrderDirectionAsc,
		Fields: []string{root.column}, Directions: []entgql.OrderDirection{entgql.OrderDirectionDesc},
	})
	if err != nil {
		return nil, errDecline
	}
	for _, p := range preds {
		p(q.Selector)
	}
	q.Selector.OrderBy(entsql.Desc(q.Root.C(root.column)), q.Root.C("id")).Limit(*first + 1)
	rows, err := q.Read(rctx, r.Client)
	if err != nil {
		return nil, err
	}
	hasNext := rows.Len() == *first+1
	rows.Truncate(*first)
	if err := r.sectionRule(ctx, rows); err != nil {
		// A section not readable (errDecline), or a rule that could not be
		// decided: the resolvers answer, with the error at that field's
		// path as the directive gives it, the rest of the page served.
		return nil, errDecline
	}
	// The page is served from here on: its medical readings go to the
	// access log while it is rendered (LogReads waits for them).
	r.startMedicalLog(ctx)
	if total == 0 {
		total = rows.Len()
	}
	cursors := make([]entgql.Cursor[uuid.UUID], rows.Len())
	for i := range cursors {
		cursors[i] = entgql.Cursor[uuid.UUID]{ID: rows.Root(i, "id").(uuid.UUID), Value: []any{rows.Root(i, root.column)}}
	}
	var buf bytes.Buffer
	buf.Grow(int(min(root.lastSize.Load(), maxPageHint)))
	page.write(&buf, rows, cursors, total, hasNext, after != nil)
	root.lastSize.Store(int64(buf.Len()))
	return graphql.WriterFunc(func(w io.Writer) { _, _ = w.Write(buf.Bytes()) }), nil
}

// sectionRule is the @section directive (sectionDirective) for every request
// read with a section selected: the direct path serves the page only when
// the viewer may read every section selected (else the resolvers answer,
// with their FORBIDDEN errors at the fields' paths), and logs the medical
// readings as the directive does.
func (r *Resolver) sectionRule(ctx context.Context, rows *direct.Rows) error {
	var medical []uuid.UUID
	err := rows.Each("AdmissionRequest", func(rec direct.Record, guarded []string) error {
		if len(guarded) == 0 {
			return nil
		}
		req := &ent.AdmissionRequest{ID: rec.ID()}
		req.OriginStructureID, _ = rec.Value("origin_structure_id").(uuid.UUID)
		if u, ok := rec.Value("origin_unit_id").(uuid.UUID); ok {
			req.OriginUnitID = &u
		}
		can, err := r.actionsOn(ctx, req)
		if err != nil {
			return err
		}
		for _, name := range guarded {
			kind, ok := sectionFields[name]
			if !ok || !can[sectionRead[kind]] {
				return errDecline
			}
			if kind == enums.SectionKindMedical {
				medical = append(medical, req.ID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range medical {
		if !noteMedicalRead(ctx, id) {
			if err := r.Workflow.LogMedicalRead(ctx, []uuid.UUID{id}); err != nil {
				return err
			}
		}
	}
	return nil
}

// connectionOut is one key of a connection (or of its PageInfo or edge
// objects).
type connectionOut struct {
	key  string
	name string // field name
	sub  []connectionOut
}

// page is a compiled selection on a connection.
type page struct {
	root       directRoot
	out        []connectionOut
	node       *direct.Object
	totalCount bool
}

// compilePage compiles the selection of a root's connection; errDecline
// for anything but totalCount, pageInfo and edges { cursor node }, with
// edges selected once.
func (r *Resolver) compilePage(op *graphql.OperationContext, root directRoot, field graphql.CollectedField) (*page, error) {
	p := &page{root: root}
	edges := 0
	var walk func(sel ast.SelectionSet, typ string, allowed map[string]bool) ([]connectionOut, error)
	walk = func(sel ast.SelectionSet, typ string, allowed map[string]bool) ([]connectionOut, error) {
		var outs []connectionOut
		for _, cf := range graphql.CollectFields(op, sel, []string{typ}) {
			if !direct.Plain(cf) || !(cf.Name == "__typename" || allowed[cf.Name]) {
				return nil, errDecline
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
				o.sub, err = walk(cf.Selections, root.edge, map[string]bool{"cursor": true, "node": true})
			case "node":
				if p.node != nil {
					return nil, errDecline
				}
				var ok bool
				if p.node, ok = r.Direct.Compile(op, root.node, cf.Selections); !ok {
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
	out, err := walk(field.Selections, root.conn, map[string]bool{"totalCount": true, "pageInfo": true, "edges": true})
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
		p.node, _ = r.Direct.Empty(root.node)
	}
	return p, nil
}

// write writes the connection as gqlgen marshals the ent connection.
func (p *page) write(w *bytes.Buffer, rows *direct.Rows, cursors []entgql.Cursor[uuid.UUID], total int, hasNext, hasPrevious bool) {
	var cursorAt = func(i int) graphql.Marshaler {
		if i < 0 || i >= len(cursors) {
			return graphql.Null
		}
		return scalar.MarshalCursor(cursors[i])
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
					object(o.sub, p.root.edge, i)
				}
				io.WriteString(w, "]")
			case "cursor":
				scalar.MarshalCursor(cursors[edge]).MarshalGQL(w)
			case "node":
				rows.Write(w, edge)
			}
		}
		io.WriteString(w, "}")
	}
	object(p.out, p.root.conn, -1)
}
