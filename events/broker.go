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
	// Buffer is how many events a subscriber may have waiting.
	Buffer int
}

// NewBroker returns a broker whose subscribers may have up to buffer events
// waiting.
func NewBroker(buffer int) *Broker {
	if buffer <= 0 {
		buffer = 256
	}
	return &Broker{subs: map[*Subscription]struct{}{}, Buffer: buffer}
}

// Subscription receives events until Done is closed: Ready says when some
// wait, Take hands them over.
//
// The waiting events are a slice that grows with them, not a channel of
// Buffer slots: an idle subscription holds no queue (a channel of 1 024
// pointers was 8 KiB per subscription, a tenth of an idle one's memory
// with one subscription per connection; docs/benchmarks.md).
type Subscription struct {
	match func(*ent.Event) bool // nil: every event
	limit int
	ready chan struct{} // holds a token while events wait
	done  chan struct{}
	once  sync.Once
	err   error

	mu      sync.Mutex
	waiting []*ent.Event
	spare   []*ent.Event // the slice Take handed over last time, reused
}

// Ready receives a value when events wait to be taken.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the waiting events, oldest first, and empties the queue.
// The slice is the subscription's: it stays valid until the next Take.
func (s *Subscription) Take() []*ent.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.waiting
	clear(s.spare) // the events of the Take before: not kept alive
	s.waiting = s.spare[:0]
	if cap(s.waiting) > 64 { // a burst is over: do not keep its room
		s.waiting = nil
	}
	s.spare = out
	return out
}

// Len is the number of waiting events.
func (s *Subscription) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// offer queues e; false when the subscriber already has limit events
// waiting.
func (s *Subscription) offer(e *ent.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) >= s.limit {
		return false
	}
	s.waiting = append(s.waiting, e)
	if len(s.waiting) == 1 {
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
	return true
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
	s := &Subscription{match: match, limit: b.Buffer, ready: make(chan struct{}, 1), done: make(chan struct{})}
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
			if !s.offer(e) {
				slow = append(slow, s)
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
