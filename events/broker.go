// Package events fans committed events out to live subscribers. Writers
// never wait: each subscriber has a bounded buffer and is dropped, with a
// reason, when it falls behind; it then resumes with its cursor from the
// events table, which is the source of truth.
package events

import (
	"errors"
	"sync"

	"passerelle/ent"
)

// ErrSlowSubscriber closes a subscription that fell behind.
var ErrSlowSubscriber = errors.New("subscriber too slow: events dropped; resume with the last cursor")

// Broker is the in-process fan-out.
type Broker struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
	// Buffer is the per-subscriber queue length.
	Buffer int
}

// NewBroker returns a broker with per-subscriber buffers of the given size.
func NewBroker(buffer int) *Broker {
	if buffer <= 0 {
		buffer = 256
	}
	return &Broker{subs: map[*Subscription]struct{}{}, Buffer: buffer}
}

// Subscription receives events on C until Done is closed.
type Subscription struct {
	C     chan *ent.Event
	match func(*ent.Event) bool // nil: every event
	done  chan struct{}
	once  sync.Once
	err   error
}

// Done is closed when the broker dropped the subscription.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err says why the subscription was dropped.
func (s *Subscription) Err() error { return s.err }

func (s *Subscription) close(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

// Subscribe registers a subscriber to every event.
func (b *Broker) Subscribe() *Subscription { return b.SubscribeWhere(nil) }

// SubscribeWhere registers a subscriber to the events match accepts (every
// event when match is nil), so that a subscriber is not woken up for events
// it would discard (a request's or a unit's feed). Publish calls match: it
// must be cheap, safe for concurrent use, and must not block.
func (b *Broker) SubscribeWhere(match func(*ent.Event) bool) *Subscription {
	s := &Subscription{C: make(chan *ent.Event, b.Buffer), match: match, done: make(chan struct{})}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Unsubscribe removes a subscriber.
func (b *Broker) Unsubscribe(s *Subscription) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
	s.close(nil)
}

// Publish hands committed events to every subscriber without blocking.
func (b *Broker) Publish(evs []*ent.Event) {
	b.mu.RLock()
	var slow []*Subscription
	for s := range b.subs {
		for _, e := range evs {
			if s.match != nil && !s.match(e) {
				continue
			}
			select {
			case s.C <- e:
			default:
				slow = append(slow, s)
			}
			if len(slow) > 0 && slow[len(slow)-1] == s {
				break
			}
		}
	}
	b.mu.RUnlock()
	for _, s := range slow {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.close(ErrSlowSubscriber)
	}
}

// Count returns the number of live subscribers.
func (b *Broker) Count() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.subs)
}
