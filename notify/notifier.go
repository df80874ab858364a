package notify

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"passerelle/authz"
	"passerelle/directory"
	"passerelle/ent"
	"passerelle/ent/dispatch"
	"passerelle/ent/event"
	"passerelle/ent/habilitation"
	"passerelle/ent/message"
	"passerelle/ent/notification"
	"passerelle/ent/notificationcursor"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/events"
	"passerelle/internal/civil"
	"passerelle/labels"
	"passerelle/viewer"
	"passerelle/workflow"
)

// Mail is one e-mail to send.
type Mail struct {
	// Key names it for good (its Message-ID derives from it): a resend after
	// a lost answer from the server is recognizably the same e-mail.
	Key, To, Subject, Body string
}

// Sender hands e-mails to a mail server (SMTP).
type Sender interface {
	Send(ctx context.Context, m Mail) error
}

// Defaults of Config.
const (
	DefaultInterval = 5 * time.Second
	DefaultMaxAge   = 24 * time.Hour
)

// Config sets the notifications up.
type Config struct {
	// Sender delivers the e-mails; nil turns the notifications off.
	Sender Sender
	// PublicURL is the address people open Passerelle at, quoted in the
	// e-mails (optional).
	PublicURL string
	// Interval separates two passes (prepare, then deliver); default 5 s.
	Interval time.Duration
	// MaxAge: an event older than this when its e-mails are prepared (the
	// notifications were off, or the server stopped a while) is not
	// e-mailed: the dashboards show it. Default 24 hours.
	MaxAge time.Duration
	Logger *slog.Logger
	Now    func() time.Time
	// Events, when set, wakes the passes as soon as an event that calls for
	// an e-mail is committed (this instance's or, on PostgreSQL, another's),
	// instead of at the next Interval.
	Events *events.Broker
}

const (
	eventBatch      = 200              // events read per pass step
	deliverBatch    = 20               // e-mails claimed at a time
	lease           = 2 * time.Minute  // a claimed e-mail is another sender's again after this
	sendTimeout     = 30 * time.Second // one e-mail to the server
	maxAttempts     = 8                // then it is given up (failed_at), logged at ERROR
	reminderEvery   = 5 * time.Minute  // reminders are looked for this often
	reminderWindow  = 7 * 24 * time.Hour
	keepSent        = 90 * 24 * time.Hour // sent or given-up e-mails are deleted after this
	cursorID        = 1
	firstRetryDelay = time.Minute
	lastRetryDelay  = time.Hour
)

// Notifier prepares and delivers the e-mail notifications.
type Notifier struct {
	client *ent.Client
	cfg    Config
	log    *slog.Logger

	mu            sync.Mutex
	stop          func()
	lastReminders time.Time
	// failing is the event whose e-mails could not be prepared, and how
	// many passes in a row failed on it (giveUp).
	failing struct {
		event  int64
		passes int
	}
}

// giveUpAfter is how many passes in a row may fail on one event before its
// e-mails are given up: a failure that lasts (a message that cannot be
// rendered, a row gone) must not stop every later e-mail, while a passing
// one (the database busy) is retried.
const giveUpAfter = 3

// giveUp records a failure to prepare an event's e-mails and says whether
// to skip them now, logged at ERROR.
func (n *Notifier) giveUp(event int64, err error) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failing.event != event {
		n.failing.event, n.failing.passes = event, 0
	}
	n.failing.passes++
	if n.failing.passes < giveUpAfter {
		return false
	}
	n.log.Error("e-mail notifications: the e-mails of an event cannot be prepared; given up", "event", event,
		"passes", n.failing.passes, "error", err)
	n.failing.event, n.failing.passes = 0, 0
	return true
}

// New returns a notifier; Start runs it. Several instances may run one on
// the same database: the events cursor moves by compare-and-set, an
// e-mail's key is unique, and a sender claims an e-mail before sending it.
func New(client *ent.Client, cfg Config) *Notifier {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{client: client, cfg: cfg, log: log}
}

// Enabled says whether e-mails are sent (a Sender is configured).
func (n *Notifier) Enabled() bool { return n.cfg.Sender != nil }

func (n *Notifier) now() time.Time { return n.cfg.Now().UTC().Truncate(time.Microsecond) }

// Start runs the passes in the background until Close: prepare the e-mails
// of the new events (and, every few minutes, the reminders), then deliver
// what is due. It does nothing without a Sender.
func (n *Notifier) Start() {
	if !n.Enabled() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n.mu.Lock()
	n.stop = func() { cancel(); <-done }
	n.mu.Unlock()
	// A subscription wakes the passes; nil channels (no broker) never fire.
	var sub *events.Subscription
	var wake <-chan struct{}
	var dropped <-chan struct{}
	subscribe := func() {
		if n.cfg.Events == nil {
			return
		}
		sub = n.cfg.Events.SubscribeWhere(func(e *ent.Event) bool {
			_, ok := Rules[e.Type]
			return ok && e.DispatchID != nil
		})
		wake, dropped = sub.Ready(), sub.Done()
	}
	subscribe()
	go func() {
		defer close(done)
		defer func() {
			if sub != nil {
				n.cfg.Events.Unsubscribe(sub)
			}
		}()
		tick := time.NewTicker(n.cfg.Interval)
		defer tick.Stop()
		for {
			if err := n.Pass(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("e-mail notifications: pass failed; the next one retries", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-wake:
				// The events are read from the table after the cursor: the
				// wake-up only says when.
				sub.Take()
			case <-dropped:
				// A burst filled the subscription during a long pass: a new
				// one, and this pass reads whatever the burst committed.
				subscribe()
			}
		}
	}()
}

// Close stops the background passes and waits for the current one.
func (n *Notifier) Close() {
	n.mu.Lock()
	stop := n.stop
	n.stop = nil
	n.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Pass is one round: prepare, reminders when due, deliver, clean up.
func (n *Notifier) Pass(ctx context.Context) error {
	var errs []error
	if _, err := n.Prepare(ctx); err != nil {
		errs = append(errs, fmt.Errorf("preparing: %w", err))
	}
	now := n.now()
	n.mu.Lock()
	remind := now.Sub(n.lastReminders) >= reminderEvery
	if remind {
		n.lastReminders = now
	}
	n.mu.Unlock()
	if remind {
		if _, err := n.PrepareReminders(ctx); err != nil {
			errs = append(errs, fmt.Errorf("reminders: %w", err))
		}
		if err := n.purge(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cleaning up: %w", err))
		}
	}
	if _, _, err := n.Deliver(ctx); err != nil {
		errs = append(errs, fmt.Errorf("delivering: %w", err))
	}
	return errors.Join(errs...)
}

// Prepare writes the e-mails the events committed since the last pass call
// for, and moves the cursor past them in the same transaction. It returns
// how many e-mails it wrote.
func (n *Notifier) Prepare(ctx context.Context) (int, error) {
	ctx = viewer.System(ctx)
	total := 0
	for {
		from, err := n.cursor(ctx)
		if err != nil {
			return total, err
		}
		evs, err := n.client.Event.Query().Where(event.IDGT(from)).Order(event.ByID()).Limit(eventBatch).All(ctx)
		if err != nil || len(evs) == 0 {
			return total, err
		}
		c := newContextCache(n.client)
		var rows []draft
		for _, e := range evs {
			rs, err := n.forEvent(ctx, c, e)
			if err != nil && !n.giveUp(e.ID, err) {
				return total, fmt.Errorf("event %d: %w", e.ID, err)
			}
			rows = append(rows, rs...)
		}
		moved, err := n.write(ctx, from, evs[len(evs)-1].ID, rows)
		if err != nil {
			return total, err
		}
		if moved {
			total += len(rows)
		}
		if len(evs) < eventBatch && moved {
			return total, nil
		}
	}
}

// cursor returns the last event prepared; the first time, the latest event
// (the notifications start with what happens after they are turned on).
func (n *Notifier) cursor(ctx context.Context) (int64, error) {
	c, err := n.client.NotificationCursor.Get(ctx, cursorID)
	if err == nil {
		return c.EventID, nil
	}
	if !ent.IsNotFound(err) {
		return 0, err
	}
	var last int64
	if e, err := n.client.Event.Query().Order(event.ByID(sql.OrderDesc())).First(ctx); err == nil {
		last = e.ID
	} else if !ent.IsNotFound(err) {
		return 0, err
	}
	err = n.client.NotificationCursor.Create().SetID(cursorID).SetEventID(last).SetUpdatedAt(n.now()).
		OnConflictColumns(notificationcursor.FieldID).DoNothing().Exec(viewer.AllowWrites(ctx))
	if err != nil && !errors.Is(err, stdsql.ErrNoRows) {
		return 0, err
	}
	c, err = n.client.NotificationCursor.Get(ctx, cursorID)
	if err != nil {
		return 0, err
	}
	return c.EventID, nil
}

// write moves the cursor from → to and inserts the rows, in one
// transaction; moved is false when another instance moved the cursor first
// (its pass wrote these e-mails).
func (n *Notifier) write(ctx context.Context, from, to int64, rows []draft) (moved bool, err error) {
	tx, err := n.client.Tx(ctx)
	if err != nil {
		return false, err
	}
	wctx := viewer.AllowWrites(ctx)
	k, err := tx.NotificationCursor.Update().
		Where(notificationcursor.ID(cursorID), notificationcursor.EventID(from)).
		SetEventID(to).Save(wctx)
	if err != nil || k == 0 {
		_ = tx.Rollback()
		return false, err
	}
	if err := insert(wctx, tx.Notification, rows); err != nil {
		_ = tx.Rollback()
		return false, err
	}
	return true, tx.Commit()
}

// draft is one e-mail prepared, not yet written.
type draft struct {
	key, email, subject, body string
	user                      uuid.UUID
	at                        time.Time
}

// insert writes the drafts; one whose key exists already is left as it is
// (the same event or reminder prepared twice).
func insert(ctx context.Context, c *ent.NotificationClient, ds []draft) error {
	if len(ds) == 0 {
		return nil
	}
	creates := make([]*ent.NotificationCreate, len(ds))
	for i, d := range ds {
		creates[i] = c.Create().SetKey(d.key).SetUserID(d.user).SetEmail(d.email).SetSubject(d.subject).
			SetBody(d.body).SetCreatedAt(d.at).SetNextAttemptAt(d.at)
	}
	err := c.CreateBulk(creates...).OnConflictColumns(notification.FieldKey).DoNothing().Exec(ctx)
	if errors.Is(err, stdsql.ErrNoRows) {
		return nil
	}
	return err
}

// recipient is one person to tell, through the habilitation that covers it.
type recipient struct {
	user    *ent.User
	profile enums.Profile
}

// about is what an e-mail is about: a request, and the unit of a dispatch.
type about struct {
	req    *ent.AdmissionRequest
	origin string
	unit   *ent.Unit
}

// contextCache keeps, for one pass step, the requests, units and
// structure names already read.
type contextCache struct {
	client  *ent.Client
	reqs    map[uuid.UUID]*ent.AdmissionRequest
	units   map[uuid.UUID]*ent.Unit
	origins map[uuid.UUID]string
}

func newContextCache(c *ent.Client) *contextCache {
	return &contextCache{client: c, reqs: map[uuid.UUID]*ent.AdmissionRequest{},
		units: map[uuid.UUID]*ent.Unit{}, origins: map[uuid.UUID]string{}}
}

func (c *contextCache) about(ctx context.Context, requestID, unitID uuid.UUID) (about, error) {
	req, ok := c.reqs[requestID]
	if !ok {
		var err error
		if req, err = c.client.AdmissionRequest.Get(ctx, requestID); err != nil {
			return about{}, err
		}
		c.reqs[requestID] = req
	}
	u, ok := c.units[unitID]
	if !ok {
		var err error
		if u, err = c.client.Unit.Get(ctx, unitID); err != nil {
			return about{}, err
		}
		c.units[unitID] = u
	}
	origin, ok := c.origins[req.OriginStructureID]
	if !ok {
		s, err := c.client.Structure.Get(ctx, req.OriginStructureID)
		if err != nil {
			return about{}, err
		}
		origin = s.Name
		c.origins[req.OriginStructureID] = origin
	}
	return about{req: req, origin: origin, unit: u}, nil
}

// forEvent prepares the e-mails of one event.
func (n *Notifier) forEvent(ctx context.Context, c *contextCache, e *ent.Event) ([]draft, error) {
	aud, ok := Rules[e.Type]
	if !ok || e.DispatchID == nil || e.UnitID == nil || n.now().Sub(e.OccurredAt) > n.cfg.MaxAge {
		return nil, nil
	}
	a, err := c.about(ctx, e.RequestID, *e.UnitID)
	if err != nil {
		return nil, err
	}
	if aud == toOtherSide {
		if aud, err = n.otherSide(ctx, e); err != nil || aud == 0 {
			return nil, err
		}
	}
	status, _ := labels.Label("DispatchStatus", e.ToStatus)
	f := fields{Reason: reasonLabel(e.Type, e.Reason), Status: status, When: e.OccurredAt.In(civil.Location).Format("02/01/2006 à 15:04")}
	return n.mails(ctx, string(e.Type), fmt.Sprintf("event:%d", e.ID), a, aud, e.ActorID, f)
}

// otherSide is the side a message's author is not on.
func (n *Notifier) otherSide(ctx context.Context, e *ent.Event) (audience, error) {
	if e.ActorID == nil {
		return 0, nil
	}
	m, err := n.client.Message.Query().
		Where(message.DispatchID(*e.DispatchID), message.AuthorID(*e.ActorID), message.CreatedAtLTE(e.OccurredAt)).
		Order(message.ByCreatedAt(sql.OrderDesc())).First(ctx)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if m.FromReceiver {
		return toRequesters, nil
	}
	return toUnit, nil
}

// mails renders one e-mail per recipient of aud, keyed key:<user>.
func (n *Notifier) mails(ctx context.Context, kind, key string, a about, aud audience, actor *uuid.UUID, f fields) ([]draft, error) {
	rs, err := n.recipients(ctx, a, aud, actor)
	if err != nil {
		return nil, err
	}
	f.Reference, f.Unit, f.Origin, f.Link = a.req.Reference, a.unit.Name, a.origin, n.cfg.PublicURL
	now := n.now()
	out := make([]draft, 0, len(rs))
	for _, r := range rs {
		f.Profile, _ = labels.Label("Profile", string(r.profile))
		subject, body, err := render(kind, f)
		if err != nil {
			return nil, err
		}
		out = append(out, draft{key: key + ":" + r.user.ID.String(), user: r.user.ID, email: r.user.Email,
			subject: subject, body: body, at: now})
	}
	return out, nil
}

// recipients are the people who opted in on a habilitation, valid now, that
// covers the request's requesting side or the unit (authz's rules), one
// each, the actor left out.
func (n *Notifier) recipients(ctx context.Context, a about, aud audience, actor *uuid.UUID) ([]recipient, error) {
	var structures []uuid.UUID
	if aud&toRequesters != 0 {
		structures = append(structures, a.req.OriginStructureID)
	}
	if aud&toUnit != 0 {
		structures = append(structures, a.unit.StructureID)
	}
	habs, err := n.habilitations(ctx, n.now(), structures...)
	if err != nil {
		return nil, err
	}
	scope := authz.RequestScope{OriginStructure: a.req.OriginStructureID, OriginUnit: a.req.OriginUnitID}
	seen := map[uuid.UUID]bool{}
	var out []recipient
	for _, h := range habs {
		vh := grant(h)
		covers := (aud&toRequesters != 0 && authz.RequestingCovers(vh, scope)) ||
			(aud&toUnit != 0 && authz.ReceivingCovers(vh, a.unit.ID, a.unit.StructureID, a.unit.Kind))
		if !covers || seen[h.UserID] || (actor != nil && *actor == h.UserID) {
			continue
		}
		seen[h.UserID] = true
		out = append(out, recipient{user: h.Edges.User, profile: h.Profile})
	}
	return out, nil
}

// grant is a stored habilitation as the rule functions of authz take it.
func grant(h *ent.Habilitation) viewer.Habilitation {
	return viewer.Habilitation{ID: h.ID, Profile: h.Profile, StructureID: h.StructureID, UnitID: h.UnitID}
}

// habilitations are those, valid at now, of enabled accounts on the
// structures, whose holders opted in for e-mails, with their users.
func (n *Notifier) habilitations(ctx context.Context, now time.Time, structures ...uuid.UUID) ([]*ent.Habilitation, error) {
	return n.client.Habilitation.Query().
		Where(habilitation.EmailNotifications(true), habilitation.RevokedAtIsNil(),
			habilitation.ValidFromLTE(now), habilitation.ValidUntilGT(now),
			habilitation.StructureIDIn(structures...), habilitation.HasUserWith(user.Disabled(false))).
		WithUser().Order(habilitation.ByID()).All(ctx)
}

// PrepareReminders writes rule 9's reminders, each once (a reminder
// written by an earlier pass keeps its key, and is not written again): the
// dispatches sent in the last week that still wait for an answer — late
// after 24 hours (to the unit), overdue after 48 hours (to both sides) —
// and the habilitations that end within 15 days (to the referents of their
// structure). It returns how many it prepared, those already written
// included.
func (n *Notifier) PrepareReminders(ctx context.Context) (int, error) {
	ctx = viewer.System(ctx)
	now := n.now()
	rows, err := n.dispatchReminders(ctx, now)
	if err != nil {
		return 0, err
	}
	expiring, err := n.expiringHabilitations(ctx, now)
	if err != nil {
		return 0, err
	}
	rows = append(rows, expiring...)
	if len(rows) == 0 {
		return 0, nil
	}
	if err := insert(viewer.AllowWrites(ctx), n.client.Notification, rows); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// dispatchReminders are the late and overdue dispatches' e-mails.
func (n *Notifier) dispatchReminders(ctx context.Context, now time.Time) ([]draft, error) {
	ds, err := n.client.Dispatch.Query().
		Where(dispatch.StatusIn(workflow.WaitingStatuses()...), dispatch.SentAtLTE(now.Add(-workflow.LateAfter)),
			dispatch.SentAtGT(now.Add(-reminderWindow))).
		Order(dispatch.ByID()).All(ctx)
	if err != nil {
		return nil, err
	}
	c := newContextCache(n.client)
	var rows []draft
	for _, d := range ds {
		a, err := c.about(ctx, d.RequestID, d.UnitID)
		if err != nil {
			return nil, err
		}
		kinds := []string{kindLate}
		if now.Sub(d.SentAt) >= workflow.OverdueAfter {
			kinds = append(kinds, kindOverdue)
		}
		for _, kind := range kinds {
			f := fields{When: d.SentAt.In(civil.Location).Format("02/01/2006 à 15:04")}
			rs, err := n.mails(ctx, kind, strings.ToLower(kind)+":"+d.ID.String(), a, reminderAudience[kind], nil, f)
			if err != nil {
				return nil, err
			}
			rows = append(rows, rs...)
		}
	}
	return rows, nil
}

// expiringHabilitations are the e-mails to the referents of the
// structures whose habilitations end within directory.ExpiryNotice.
func (n *Notifier) expiringHabilitations(ctx context.Context, now time.Time) ([]draft, error) {
	habs, err := n.client.Habilitation.Query().
		Where(habilitation.RevokedAtIsNil(), habilitation.ValidUntilGT(now),
			habilitation.ValidUntilLTE(now.Add(directory.ExpiryNotice)), habilitation.HasUserWith(user.Disabled(false))).
		WithUser().WithStructure().Order(habilitation.ByID()).All(ctx)
	if err != nil {
		return nil, err
	}
	var rows []draft
	for _, h := range habs {
		if !directory.ExpiresSoonAt(h, now) {
			continue
		}
		refs, err := n.habilitations(ctx, now, h.StructureID)
		if err != nil {
			return nil, err
		}
		holderProfile, _ := labels.Label("Profile", string(h.Profile))
		f := fields{Origin: h.Edges.Structure.Name, Holder: h.Edges.User.FirstName + " " + h.Edges.User.LastName,
			HolderProfile: holderProfile, Until: h.ValidUntil.In(civil.Location).Format("02/01/2006 à 15:04"), Link: n.cfg.PublicURL}
		seen := map[uuid.UUID]bool{}
		for _, r := range refs {
			vh := grant(r)
			if seen[r.UserID] || authz.ScopeOf(r.Profile) != authz.OwnStructure ||
				!authz.AdministersWith(vh, authz.ManageAccounts, h.StructureID) {
				continue
			}
			seen[r.UserID] = true
			f.Profile, _ = labels.Label("Profile", string(r.Profile))
			subject, body, err := render(kindExpiring, f)
			if err != nil {
				return nil, err
			}
			rows = append(rows, draft{key: "expiring:" + h.ID.String() + ":" + r.UserID.String(), user: r.UserID,
				email: r.Edges.User.Email, subject: subject, body: body, at: now})
		}
	}
	return rows, nil
}

// Deliver sends the e-mails that are due, each claimed first (a lease: if
// this instance stops while sending, another sends it after the lease), and
// records the outcome: sent, retried later (1 min, doubling, at most 1 h
// apart), or given up after maxAttempts.
func (n *Notifier) Deliver(ctx context.Context) (sent, failed int, err error) {
	if !n.Enabled() {
		return 0, 0, nil
	}
	ctx = viewer.System(ctx)
	wctx := viewer.AllowWrites(ctx)
	for {
		batch, err := n.claim(ctx)
		if err != nil || len(batch) == 0 {
			return sent, failed, err
		}
		for _, m := range batch {
			sctx, cancel := context.WithTimeout(ctx, sendTimeout)
			serr := n.cfg.Sender.Send(sctx, Mail{Key: m.Key, To: m.Email, Subject: m.Subject, Body: m.Body})
			cancel()
			now := n.now()
			upd := n.client.Notification.UpdateOneID(m.ID).SetAttempts(m.Attempts + 1)
			switch {
			case serr == nil:
				upd.SetSentAt(now).ClearLastError()
				sent++
			case m.Attempts+1 >= maxAttempts:
				upd.SetFailedAt(now).SetLastError(serr.Error())
				failed++
				n.log.Error("e-mail notification given up", "key", m.Key, "attempts", m.Attempts+1, "error", serr)
			default:
				upd.SetNextAttemptAt(now.Add(retryDelay(m.Attempts + 1))).SetLastError(serr.Error())
				n.log.Warn("e-mail notification not sent; retrying later", "key", m.Key, "attempts", m.Attempts+1, "error", serr)
			}
			if err := upd.Exec(wctx); err != nil {
				return sent, failed, err
			}
		}
		if len(batch) < deliverBatch {
			return sent, failed, nil
		}
	}
}

// retryDelay is the wait after the n-th failed attempt.
func retryDelay(attempts int) time.Duration {
	d := firstRetryDelay << (attempts - 1)
	if d > lastRetryDelay || d <= 0 {
		return lastRetryDelay
	}
	return d
}

// claim takes up to deliverBatch due e-mails for this sender: each moves its
// next attempt to the end of a lease, conditionally, so that two senders
// never both take one.
func (n *Notifier) claim(ctx context.Context) ([]*ent.Notification, error) {
	now := n.now()
	due, err := n.client.Notification.Query().
		Where(notification.SentAtIsNil(), notification.FailedAtIsNil(), notification.NextAttemptAtLTE(now)).
		Order(notification.ByNextAttemptAt(), notification.ByID()).Limit(deliverBatch).All(ctx)
	if err != nil {
		return nil, err
	}
	var mine []*ent.Notification
	for _, m := range due {
		k, err := n.client.Notification.Update().
			Where(notification.ID(m.ID), notification.NextAttemptAt(m.NextAttemptAt), notification.SentAtIsNil()).
			SetNextAttemptAt(now.Add(lease)).Save(viewer.AllowWrites(ctx))
		if err != nil {
			return mine, err
		}
		if k == 1 {
			mine = append(mine, m)
		}
	}
	return mine, nil
}

// purge deletes the e-mails sent or given up long ago.
func (n *Notifier) purge(ctx context.Context) error {
	before := n.now().Add(-keepSent)
	_, err := n.client.Notification.Delete().
		Where(notification.Or(notification.SentAtLT(before), notification.FailedAtLT(before))).
		Exec(viewer.AllowWrites(viewer.System(ctx)))
	return err
}
