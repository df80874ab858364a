package graph

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"passerelle/apperr"
	"passerelle/ent"
	"passerelle/ent/event"
	"passerelle/ent/predicate"
	"passerelle/ent/schema/rule"
	"passerelle/server/reqctx"
	"passerelle/viewer"
)

// backlogLimit bounds one read of a replay; a longer backlog is read page
// after page (the live events wait meanwhile in the subscription's buffer).
const backlogLimit = 5000

// readAttempts is how many times a failed read of the events table is tried
// (with a growing pause) before the subscription ends with an error: an
// event must never be skipped because a read failed.
const readAttempts = 5

// subscribe streams the events matching the feed filters: first those after
// the cursor (replay), then live ones, with no gap and no duplicate — the
// live subscription starts before the replay is read, and events are
// de-duplicated by their position. Each live event is re-read through the
// viewer's row rules at delivery, so a viewer who lost access stops seeing it.
func (r *Resolver) subscribe(ctx context.Context, after *entgql.Cursor[uuid.UUID], feed ...predicate.Event) (<-chan *ent.Event, error) {
	pos, err := cursorPosition(after)
	if err != nil {
		return nil, err
	}
	budget := reqctx.SubscriptionBudget(ctx)
	if budget != nil && !budget.Acquire() {
		return nil, apperr.New(apperr.RateLimited, "too many subscriptions on this connection")
	}
	release := func() {
		if budget != nil {
			budget.Release()
		}
	}
	if after == nil {
		// Live only: from the last event committed now. Read before
		// subscribing, and replayed from there like a cursor, so that nothing
		// committed around the subscription is missed or taken for older.
		last, err := r.Client.Event.Query().Order(ent.Desc(event.FieldID)).First(viewer.System(ctx))
		switch {
		case err == nil:
			pos = last.ID
		case !ent.IsNotFound(err):
			release()
			return interrupted(ctx, err)
		}
	}
	inFeed, key := preCheck(feed), checkKey(ctx, feed)
	sub := r.Broker.SubscribeWhere(inFeed)
	readBacklog := func(from int64) ([]*ent.Event, error) {
		return r.Client.Event.Query().Where(append(feed, event.IDGT(from))...).
			Order(ent.Asc(event.FieldID)).Limit(backlogLimit).All(ctx)
	}
	backlog, err := readBacklog(pos)
	if err != nil {
		r.Broker.Unsubscribe(sub)
		release()
		return interrupted(ctx, err)
	}
	out := make(chan *ent.Event, 1)
	go func() {
		defer close(out)
		defer release()
		defer r.Broker.Unsubscribe(sub)
		last := pos
		send := func(e *ent.Event) bool {
			select {
			case out <- e:
				last = e.ID
				return true
			case <-ctx.Done():
				return false
			}
		}
		failed := func(err error) {
			if ctx.Err() != nil {
				return
			}
			r.Logger.ErrorContext(ctx, "subscription ended: reading events failed", "error", err)
			endWithError(ctx, apperr.Internal, "events could not be read; resume with the last cursor")
		}
		for after != nil {
			for _, e := range backlog {
				if !send(e) {
					return
				}
			}
			if len(backlog) < backlogLimit {
				break
			}
			// More than one page behind: read on from the last event sent,
			// or the events between this page and the live ones are lost.
			if backlog, err = retry(ctx, func() ([]*ent.Event, error) { return readBacklog(last) }); err != nil {
				failed(err)
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Done():
				if err := sub.Err(); err != nil {
					r.Logger.InfoContext(ctx, "subscription dropped", "reason", err)
					endWithError(ctx, apperr.RateLimited, err.Error())
				}
				return
			case <-sub.Ready():
				for _, e := range sub.Take() {
					if e.ID <= last {
						continue
					}
					visible, err := retry(ctx, func() (bool, error) {
						return shared.check(ctx, e, key, func() (bool, error) {
							return r.Client.Event.Query().Where(append(feed, event.ID(e.ID))...).Exist(ctx)
						})
					})
					if err != nil {
						failed(err)
						return
					}
					if !visible {
						continue
					}
					if !send(e) {
						return
					}
				}
			}
		}
	}()
	return out, nil
}

// interrupted is what a subscription whose setup failed with err returns:
// when its context ended meanwhile (the client stopped it, or the
// connection is being closed — a revoked habilitation closes it with 4403),
// an ended stream and no error, or the client would get an INTERNAL "the
// operation was interrupted" it did not cause just before the close.
func interrupted(ctx context.Context, err error) (<-chan *ent.Event, error) {
	if ctx.Err() == nil {
		return nil, err
	}
	out := make(chan *ent.Event)
	close(out)
	return out, nil
}

// preCheck returns a test an event must pass to belong to the feed, run in
// memory by the broker before the database check, when the feed is one
// equality on the event's own request or unit (requestEvents, unitEvents):
// without it, every event would wake every subscription up and each would
// query the database for events of other requests. nil when the feed has no
// such equality (the viewer-wide feed: visibility is the database's to say).
func preCheck(feed []predicate.Event) func(*ent.Event) bool {
	if len(feed) != 1 {
		return nil
	}
	q, args := renderEvent(feed[0])
	id, ok := uuid.UUID{}, len(args) == 1
	if ok {
		id, ok = args[0].(uuid.UUID)
	}
	switch {
	case !ok:
		return nil
	case sameSQL(q, event.RequestID(id)):
		return func(e *ent.Event) bool { return e.RequestID == id }
	case sameSQL(q, event.UnitID(id)):
		return func(e *ent.Event) bool { return e.UnitID != nil && *e.UnitID == id }
	}
	return nil
}

// renderEvent writes an event predicate as SQL (to compare predicates).
func renderEvent(p predicate.Event) (string, []any) {
	s := sql.Select("*").From(sql.Table(event.Table))
	p(s)
	return s.Query()
}

func sameSQL(q string, p predicate.Event) bool {
	other, _ := renderEvent(p)
	return other == q
}

// checkKey identifies the database check of a subscription: the feed and
// the viewer's event row rule (rule.EventVisible, the Event privacy policy's
// filter), as SQL. Subscriptions with the same key (the sessions of one
// user, the staff of one structure holding the same habilitations) would run
// the same query for an event: they share one (see sharedChecks). If the
// Event policy ever reads more of the viewer than EventVisible, that must go
// into the key too. "" (no sharing) without a viewer.
func checkKey(ctx context.Context, feed []predicate.Event) string {
	v := viewer.FromContext(ctx)
	if v == nil {
		return ""
	}
	s := sql.Select("*").From(sql.Table(event.Table))
	for _, p := range feed {
		p(s)
	}
	rule.EventVisible(v)(s)
	q, args := s.Query()
	b, err := json.Marshal(args)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(append([]byte(q+"\x00"), b...))
	return string(sum[:])
}

// sharedChecks runs the database check of one published event once per
// check key, however many subscriptions wait for it: an event fanned out to
// thousands of dashboards of the same viewers costs one query per distinct
// rule, not one per subscription. Entries are keyed by the published
// *ent.Event (the broker hands every subscriber the same one) and only the
// latest sharedEvents events are kept.
type sharedChecks struct {
	mu   sync.Mutex
	byEv map[*ent.Event]map[string]*sharedCheck
	ring [sharedEvents]*ent.Event
	next int
}

const sharedEvents = 1024

type sharedCheck struct {
	done    chan struct{}
	visible bool
	err     error
}

var shared = &sharedChecks{byEv: map[*ent.Event]map[string]*sharedCheck{}}

// check returns run's answer for (e, key), running it only if no other
// subscription did or is doing it. A failed shared run is not reused: the
// caller then runs its own.
func (c *sharedChecks) check(ctx context.Context, e *ent.Event, key string, run func() (bool, error)) (bool, error) {
	if key == "" {
		return run()
	}
	c.mu.Lock()
	byKey := c.byEv[e]
	if byKey == nil {
		if old := c.ring[c.next]; old != nil {
			delete(c.byEv, old)
		}
		c.ring[c.next] = e
		c.next = (c.next + 1) % sharedEvents
		byKey = map[string]*sharedCheck{}
		c.byEv[e] = byKey
	}
	sc := byKey[key]
	if sc == nil {
		sc = &sharedCheck{done: make(chan struct{})}
		byKey[key] = sc
		c.mu.Unlock()
		sc.visible, sc.err = run()
		close(sc.done)
		return sc.visible, sc.err
	}
	c.mu.Unlock()
	select {
	case <-sc.done:
		if sc.err == nil {
			return sc.visible, nil
		}
		return run()
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// retry runs read until it succeeds, readAttempts times at most, pausing
// longer after each failure (a busy or briefly unreachable database).
func retry[T any](ctx context.Context, read func() (T, error)) (T, error) {
	pause := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := read()
		if err == nil || attempt == readAttempts || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// endWithError makes a websocket subscription end with an "error" message
// carrying the reason instead of a "complete" that a client would take for
// a normal end (and not resume). The SSE transport has no such message: its
// stream just completes (gqlgen panics on the missing error holder, hence
// the recover).
func endWithError(ctx context.Context, code apperr.Code, message string) {
	defer func() { _ = recover() }()
	transport.AddSubscriptionError(ctx, &gqlerror.Error{Message: message, Extensions: map[string]any{"code": string(code)}})
}
