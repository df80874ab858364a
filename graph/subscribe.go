package graph

import (
	"context"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/ent/event"
	"passerelle/ent/predicate"
)

// backlogLimit bounds one replay; a client further behind resumes again
// from the last cursor it received.
const backlogLimit = 5000

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
	sub := r.Broker.Subscribe()
	var backlog []*ent.Event
	if after != nil {
		backlog, err = r.Client.Event.Query().Where(append(feed, event.IDGT(pos))...).
			Order(ent.Asc(event.FieldID)).Limit(backlogLimit).All(ctx)
		if err != nil {
			r.Broker.Unsubscribe(sub)
			return nil, err
		}
	}
	out := make(chan *ent.Event, 1)
	go func() {
		defer close(out)
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
		for _, e := range backlog {
			if !send(e) {
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
				}
				return
			case e := <-sub.C:
				if e.ID <= last {
					continue
				}
				visible, err := r.Client.Event.Query().Where(append(feed, event.ID(e.ID))...).Exist(ctx)
				if err != nil || !visible {
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
