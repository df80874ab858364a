package workflow

import (
	"context"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/authz"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/ent/dispatch"
	"passerelle/enums"
	"passerelle/viewer"
)

// Publisher is told about events after their transaction committed.
type Publisher interface {
	Publish(events []*ent.Event)
}

// Config holds the workflow settings.
type Config struct {
	Now func() time.Time
	// CheckResults reads again, inside its transaction, every row an
	// operation answers with from what it wrote (mirror), and fails the
	// operation if the two differ. For the tests.
	CheckResults bool
}

// Service applies the life cycle.
type Service struct {
	client *ent.Client
	pub    Publisher
	now    func() time.Time
	access *accessLogger // group commit of the medical-read log
	// checkResults: Config.CheckResults.
	checkResults bool
	// archiving stops the background archiving (StartArchiving), if any.
	archiving struct {
		sync.Mutex
		stop func()
	}
}

// NewService returns the workflow service. pub may be nil. Close it before
// the database: it flushes the access log.
func NewService(client *ent.Client, pub Publisher, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	s := &Service{client: client, pub: pub, now: cfg.Now, checkResults: cfg.CheckResults}
	s.access = newAccessLogger(s.writeAccessRows, accessQueueRows)
	return s
}

// op is one mutation: its transaction, viewer, clock and the events it writes.
type op struct {
	ctx    context.Context
	tx     *ent.Tx
	v      *viewer.Viewer
	now    time.Time
	events []*ent.Event
	// dialect is the database's (ent's dialect name); lockRows: it locks
	// the rows read for a change (PostgreSQL).
	dialect  string
	lockRows bool
	// req and disp are the request and the dispatch the operation is about,
	// as loadRequest or loadDispatch read them, with the operation's updates
	// mirrored onto them: what onRequest and onDispatch answer.
	req  *ent.AdmissionRequest
	disp *ent.Dispatch
}

// run executes fn in one transaction; its events are published after commit.
// fn reads the request it changes first (requestQuery).
//
// The events fn recorded are inserted last, just before commit, after the
// publisher's LockEvents (on PostgreSQL: a transaction-level advisory lock,
// so that event-writing transactions commit in event id order and a
// subscriber resuming "after id X" can never miss a smaller id committed
// later) and followed by its NotifyEvents (PostgreSQL NOTIFY, delivered on
// commit). Holding the lock only around those inserts keeps it short and
// free of deadlocks: the holder takes no other row lock afterwards.
func (s *Service) run(ctx context.Context, fn func(o *op) error) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return apperr.New(apperr.Unauthenticated, "sign in first")
	}
	return s.apply(ctx, viewer.AllowWrites(ctx), v, fn)
}

// apply runs fn in one transaction begun with ctx; the operation's
// statements run with opCtx. v is the viewer acting, nil for the system
// (archiving): its events then have no actor.
func (s *Service) apply(ctx, opCtx context.Context, v *viewer.Viewer, fn func(o *op) error) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return err
	}
	// Microseconds: what PostgreSQL keeps, so that the rows an operation
	// answers with (mirror) and its events hold the times stored.
	now := s.now().Truncate(time.Microsecond)
	d := s.client.Dialect()
	o := &op{ctx: opCtx, tx: tx, v: v, now: now, dialect: d, lockRows: d == dialect.Postgres}
	if err := fn(o); err != nil {
		_ = tx.Rollback()
		return err
	}
	if len(o.events) > 0 {
		outbox, _ := s.pub.(interface {
			LockEvents(ctx context.Context, tx *ent.Tx) error
			NotifyEvents(ctx context.Context, tx *ent.Tx, evs []*ent.Event) error
		})
		if outbox != nil {
			if err := outbox.LockEvents(o.ctx, tx); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		creates := make([]*ent.EventCreate, len(o.events))
		for i, e := range o.events {
			c := tx.Event.Create().SetType(e.Type).SetOccurredAt(e.OccurredAt).SetRequestID(e.RequestID).
				SetNillableActorID(e.ActorID).SetFromStatus(e.FromStatus).SetToStatus(e.ToStatus).
				SetReason(e.Reason).SetNillableSection(e.Section)
			if e.DispatchID != nil {
				c.SetDispatchID(*e.DispatchID).SetNillableUnitID(e.UnitID)
			}
			creates[i] = c
		}
		saved, err := tx.Event.CreateBulk(creates...).Save(o.ctx)
		if err == nil && outbox != nil {
			err = outbox.NotifyEvents(o.ctx, tx, saved)
		}
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		o.events = saved
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if s.pub != nil && len(o.events) > 0 {
		s.pub.Publish(o.events)
	}
	return nil
}

// eventSpec describes one event to record.
type eventSpec struct {
	typ      enums.EventType
	request  uuid.UUID
	dispatch *ent.Dispatch
	from, to string
	reason   string
	section  *enums.SectionKind
}

// record adds an event to the operation; run inserts the operation's events
// in its transaction, just before commit.
func (o *op) record(e eventSpec) error {
	var actor *uuid.UUID
	if o.v != nil {
		id := o.v.UserID
		actor = &id
	}
	ev := &ent.Event{Type: e.typ, OccurredAt: o.now, RequestID: e.request, ActorID: actor,
		FromStatus: e.from, ToStatus: e.to, Reason: e.reason, Section: e.section}
	if e.dispatch != nil {
		d, u := e.dispatch.ID, e.dispatch.UnitID
		ev.DispatchID, ev.UnitID = &d, &u
	}
	o.events = append(o.events, ev)
	return nil
}

// requestQuery reads the request a change is about. On PostgreSQL its row
// is locked (FOR UPDATE) until the transaction ends: the request row is the
// first row every change of a request or of its dispatches locks, so those
// changes run one after the other, each deciding on what the previous one
// committed. Without it (READ COMMITTED), a dispatch change decided on the
// request's status could commit after a change of that status: a unit's
// refusal revised into an acceptance just after the requesting side
// confirmed another unit stayed accepted beside the confirmed one, and a
// message could be added to a thread closed meanwhile. SQLite has one
// writer: there a write transaction holds the whole database from its
// BEGIN IMMEDIATE (TestChangeBetweenReadAndWrite checks both).
func (o *op) requestQuery() *ent.AdmissionRequestQuery {
	q := o.tx.AdmissionRequest.Query()
	if o.lockRows {
		q.ForUpdate()
	}
	return q
}

// loadRequest reads a request the viewer may see (else NOT_FOUND), with its
// dispatches' units, and the actions the viewer holds on it.
func (o *op) loadRequest(id uuid.UUID) (*ent.AdmissionRequest, map[authz.Action]bool, error) {
	req, err := o.requestQuery().Where(admissionrequest.ID(id)).Only(o.ctx)
	if ent.IsNotFound(err) {
		return nil, nil, apperr.NotFoundError("request")
	}
	if err != nil {
		return nil, nil, err
	}
	if o.req == nil {
		o.req = req
	}
	// The row rules let the viewer see req, so the profile table needs the
	// dispatched units only for a viewer on both sides or with unlike
	// receiving profiles (authz.OnVisibleRequest); they are read then as the
	// system: a receiver must be known as such even though the row rules
	// hide the other units' dispatches from them.
	scope := authz.RequestScope{OriginStructure: req.OriginStructureID, OriginUnit: req.OriginUnitID}
	all, err := authz.OnVisibleRequest(o.v, scope, func() ([]uuid.UUID, error) {
		ds, err := o.tx.Dispatch.Query().Where(dispatch.RequestID(req.ID)).
			Select(dispatch.FieldUnitID).All(viewer.System(o.ctx))
		units := make([]uuid.UUID, len(ds))
		for i, d := range ds {
			units[i] = d.UnitID
		}
		return units, err
	})
	if err != nil {
		return nil, nil, err
	}
	return req, all, nil
}

// loadDispatch reads a dispatch the viewer may see, its request, and the
// viewer's actions on it by side.
func (o *op) loadDispatch(id uuid.UUID) (d *ent.Dispatch, req *ent.AdmissionRequest, requesting, receiving map[authz.Action]bool, err error) {
	d, err = o.tx.Dispatch.Query().Where(dispatch.ID(id)).Only(o.ctx)
	if ent.IsNotFound(err) {
		return nil, nil, nil, nil, apperr.NotFoundError("dispatch")
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	req, err = o.requestQuery().Where(admissionrequest.ID(d.RequestID)).Only(o.ctx)
	if ent.IsNotFound(err) { // the request row is hidden: treat the dispatch as unknown
		return nil, nil, nil, nil, apperr.NotFoundError("dispatch")
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if o.disp == nil {
		o.disp, o.req = d, req
	}
	scope := authz.RequestScope{OriginStructure: req.OriginStructureID, OriginUnit: req.OriginUnitID}
	requesting, receiving = authz.OnDispatch(o.v, scope, d.UnitID)
	return d, req, requesting, receiving, nil
}

func forbidden(what string) error {
	return apperr.New(apperr.Forbidden, "your profile does not allow you to %s", what)
}

// stepRequest checks a request transition and applies it with a conditional
// update, so that a concurrent change makes this one fail with CONFLICT. set,
// when given, adds the operation's other changes to the request row to that
// same UPDATE.
func (o *op) stepRequest(req *ent.AdmissionRequest, a Action, set func(*ent.AdmissionRequestUpdate)) (RequestTransition, error) {
	t, ok := requestStep(a, req.Status)
	if !ok {
		return t, apperr.ConflictStatus(req.Status, "not possible while the request is %s", req.Status)
	}
	upd := o.tx.AdmissionRequest.Update().
		Where(admissionrequest.ID(req.ID), admissionrequest.StatusEQ(req.Status), admissionrequest.Version(req.Version)).
		AddVersion(1).SetUpdatedAt(o.now)
	if t.To != "" {
		upd.SetStatus(t.To)
	}
	if set != nil {
		set(upd)
	}
	n, err := upd.Save(o.ctx)
	if err != nil {
		return t, err
	}
	if n == 0 {
		return t, apperr.New(apperr.Conflict, "the request was changed meanwhile; reload and retry")
	}
	return t, mirror(req, upd.Mutation())
}

// stepDispatch checks a dispatch transition (given its request's status) and
// applies it with a conditional update.
func (o *op) stepDispatch(d *ent.Dispatch, reqStatus enums.RequestStatus, a Action, set func(*ent.DispatchUpdate)) (DispatchTransition, error) {
	t, ok := dispatchStep(a, d.Status, reqStatus)
	if !ok {
		return t, apperr.ConflictStatus(d.Status, "not possible while the dispatch is %s (request %s)", d.Status, reqStatus).
			With("requestStatus", string(reqStatus))
	}
	upd := o.tx.Dispatch.Update().Where(dispatch.ID(d.ID), dispatch.StatusEQ(d.Status)).SetUpdatedAt(o.now)
	if t.To != "" {
		upd.SetStatus(t.To)
	}
	if set != nil {
		set(upd)
	}
	n, err := upd.Save(o.ctx)
	if err != nil {
		return t, err
	}
	if n == 0 {
		return t, apperr.New(apperr.Conflict, "the dispatch was changed meanwhile; reload and retry")
	}
	return t, mirror(d, upd.Mutation())
}
