package graph

import (
	"context"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"passerelle/apperr"
	"passerelle/ent"
	"passerelle/ent/event"
	"passerelle/ent/predicate"
	"passerelle/server/reqctx"
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
	sub := r.Broker.Subscribe()
	readBacklog := func(from int64) ([]*ent.Event, error) {
		return r.Client.Event.Query().Where(append(feed, event.IDGT(from))...).
			Order(ent.Asc(event.FieldID)).Limit(backlogLimit).All(ctx)
	}
	var backlog []*ent.Event
	if after != nil {
		backlog, err = readBacklog(pos)
		if err != nil {
			r.Broker.Unsubscribe(sub)
			release()
			return nil, err
		}
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
			case e := <-sub.C:
				if e.ID <= last {
					continue
				}
				visible, err := retry(ctx, func() (bool, error) {
					return r.Client.Event.Query().Where(append(feed, event.ID(e.ID))...).Exist(ctx)
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
	}()
	return out, nil
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
