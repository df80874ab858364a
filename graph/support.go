package graph

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/auth"
	"passerelle/authz"
	"passerelle/directory"
	"passerelle/ent"
	"passerelle/ent/habilitation"
	"passerelle/ent/schema/rule"
	"passerelle/enums"
	"passerelle/graph/generated"
	"passerelle/graph/model"
	"passerelle/viewer"
)

// NewSchema builds the executable schema with its directives.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	cfg := generated.Config{Resolvers: r}
	cfg.Directives.Section = r.sectionDirective
	r.Limits.complexity(&cfg.Complexity)
	return generated.NewExecutableSchema(cfg)
}

// sectionRead maps a section to the profile action that reads it.
var sectionRead = map[enums.SectionKind]authz.Action{
	enums.SectionKindMedical:     authz.ReadMedical,
	enums.SectionKindCareProject: authz.ReadCareProject,
	enums.SectionKindAdminSocial: authz.ReadAdminSocial,
}

// sectionDirective is the field rule: a section the viewer's profiles may
// not read resolves to null with FORBIDDEN at its path. Every reading of a
// medical section is logged.
func (r *Resolver) sectionDirective(ctx context.Context, obj any, next graphql.Resolver, kind enums.SectionKind) (any, error) {
	req, ok := obj.(*ent.AdmissionRequest)
	if !ok {
		return nil, apperr.New(apperr.Forbidden, "section outside a request")
	}
	can, err := r.actionsOn(ctx, req)
	if err != nil {
		return nil, err
	}
	if !can[sectionRead[kind]] {
		return nil, apperr.New(apperr.Forbidden, "your profile does not allow you to read this section")
	}
	if kind == enums.SectionKindMedical && !noteMedicalRead(ctx, req.ID) {
		// Outside an operation cache (no Install): log at once.
		if err := r.Workflow.LogMedicalRead(ctx, []uuid.UUID{req.ID}); err != nil {
			return nil, err
		}
	}
	return next(ctx)
}

// LogReads writes, once per root field, the access log of the medical
// sections it read. A failure to log fails the field: no untraced reading.
func (r *Resolver) LogReads(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	m := next(ctx)
	if err := r.flushMedicalReads(ctx); err != nil {
		graphql.AddError(ctx, err)
		return graphql.Null
	}
	return m
}

// AccessGate lets a signed-in user whose password is too old, or who holds
// no valid habilitation, do only what gets them out of that state: see who
// they are, change their password, sign out. Everything else answers
// PASSWORD_EXPIRED or FORBIDDEN at the root field. gqlgen runs root-field
// middleware for queries and mutations only: Install applies the same rule
// (accessDenied) to subscriptions when they start.
func AccessGate(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if fc == nil {
		return next(ctx)
	}
	if err := accessDenied(viewer.FromContext(ctx), fc.Field.Name); err != nil {
		graphql.AddError(ctx, err)
		return graphql.Null
	}
	return next(ctx)
}

// accessDenied is the rule of AccessGate for one root field.
func accessDenied(v *viewer.Viewer, field string) error {
	if v == nil || (!v.PasswordExpired && v.HasAny()) {
		return nil
	}
	switch field {
	case "changePassword", "logout", "viewer", "login", "setupPassword", "__typename", "__schema", "__type":
		return nil
	}
	if v.PasswordExpired {
		return apperr.New(apperr.PasswordExpired, "your password is older than 6 months: change it first (changePassword)")
	}
	return apperr.New(apperr.Forbidden, "you hold no valid habilitation; ask your structure's referent")
}

func (r *Resolver) loginPayload(ctx context.Context, s *auth.Session) (*model.LoginPayload, error) {
	vm, err := r.viewerModel(viewer.NewContext(ctx, s.Viewer), s.Viewer)
	if err != nil {
		return nil, err
	}
	return &model.LoginPayload{Token: s.Token, ExpiresAt: s.ExpiresAt, Viewer: vm}, nil
}

// viewerModel is the signed-in user with their currently valid habilitations.
func (r *Resolver) viewerModel(ctx context.Context, v *viewer.Viewer) (*model.Viewer, error) {
	u, err := r.Client.User.Get(viewer.System(ctx), v.UserID)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(v.Habilitations))
	for i, h := range v.Habilitations {
		ids[i] = h.ID
	}
	habs, err := r.Client.Habilitation.Query().Where(habilitation.IDIn(ids...)).
		WithStructure().WithUnit().Order(ent.Asc(habilitation.FieldValidUntil)).All(viewer.System(ctx))
	if err != nil {
		return nil, err
	}
	return &model.Viewer{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Profession: optional(u.Profession), PasswordExpired: v.PasswordExpired, Habilitations: habs}, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func grantInput(in model.GrantHabilitationInput) directory.GrantInput {
	g := directory.GrantInput{StructureID: in.StructureID, UnitID: val(in.UnitID), Profile: in.Profile,
		ValidFrom: val(in.ValidFrom), ValidUntil: in.ValidUntil, EmailNotifications: val(in.EmailNotifications)}
	if u := val(in.UserID); u != nil {
		g.UserID = *u
	}
	return g
}

// nilIfNotFound turns an invisible optional edge into null.
func nilIfNotFound[T any](v *T, err error) (*T, error) {
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}

// eventCursor is the opaque cursor of an event: its position in the log.
func eventCursor(id int64) *entgql.Cursor[uuid.UUID] {
	return &entgql.Cursor[uuid.UUID]{Value: id}
}

// cursorPosition reads an event cursor back.
func cursorPosition(c *entgql.Cursor[uuid.UUID]) (int64, error) {
	if c == nil {
		return 0, nil
	}
	var pos int64
	switch v := c.Value.(type) {
	case int64:
		pos = v
	case int8, int16, int32, int, uint8, uint16, uint32, uint64:
		if _, err := fmt.Sscan(fmt.Sprint(v), &pos); err != nil {
			return 0, err
		}
	default:
		return 0, apperr.BadInput("after", "not an event cursor")
	}
	if pos < 0 || c.ID != uuid.Nil {
		return 0, apperr.BadInput("after", "not an event cursor")
	}
	return pos, nil
}

// complete returns the dispatch with every column: field collection selects
// only the requested ones, and the timers need the status and sending time.
func (r *Resolver) complete(ctx context.Context, d *ent.Dispatch) (*ent.Dispatch, error) {
	if !d.SentAt.IsZero() && d.Status != "" {
		return d, nil
	}
	return r.Client.Dispatch.Get(ctx, d.ID)
}

// inbox lists the unit's dispatches, newest first. They are what the viewer
// sees acting as the unit's receiver: the narrowed viewer's row rule is the
// query's only condition, so the unit is named once (rule.AsReceiverOf).
func (r *Resolver) inbox(ctx context.Context, v *viewer.Viewer, unitID uuid.UUID, after *entgql.Cursor[uuid.UUID], first *int,
	before *entgql.Cursor[uuid.UUID], last *int, where *ent.DispatchWhereInput,
) (*ent.DispatchConnection, error) {
	receiver := rule.AsReceiverOf(v, unitID)
	if receiver == nil {
		return nil, apperr.NotFoundError("unit inbox")
	}
	first, last, err := r.Limits.page(first, last)
	if err != nil {
		return nil, err
	}
	return r.Client.Dispatch.Query().Paginate(viewer.NewContext(ctx, receiver), after, first, before, last,
		ent.WithDispatchOrder([]*ent.DispatchOrder{{Field: ent.DispatchOrderFieldSentAt, Direction: entgql.OrderDirectionDesc}}),
		ent.WithDispatchFilter(where.Filter))
}

// eagerDispatches is a request's dispatches: as eager-loaded with the
// request (its field collection, under this field's alias if any), else
// queried with the edges this field selects loaded in one query each (a
// mutation's answer: "dispatches { unit { id } }" costs two statements, not
// one plus one per dispatch).
func eagerDispatches(ctx context.Context, obj *ent.AdmissionRequest) ([]*ent.Dispatch, error) {
	var (
		ds  []*ent.Dispatch
		err error
	)
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Alias != "" {
		ds, err = obj.NamedDispatches(fc.Field.Alias)
	} else {
		ds, err = obj.Edges.DispatchesOrErr()
	}
	if !ent.IsNotLoaded(err) {
		return ds, err
	}
	q, err := obj.QueryDispatches().CollectFields(ctx)
	if err != nil {
		return nil, err
	}
	return q.All(ctx)
}

// byKey orders a request's dispatches by key: the edge is eager-loaded
// without an order (its order would be the database plan's), and the direct
// reads give them in this order too.
func byKey(ds []*ent.Dispatch) []*ent.Dispatch {
	sorted := slices.Clone(ds)
	slices.SortFunc(sorted, func(a, b *ent.Dispatch) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return sorted
}
