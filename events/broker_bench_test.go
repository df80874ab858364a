package events

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"passerelle/ent"
)

// benchBuffer is the subscriber buffer of the application (app.New).
const benchBuffer = 256

// benchSubscribers registers n subscribers, each drained by its own
// goroutine (as graph.subscribe does), calling got for every event. The
// benchmark fails if one was dropped for being slow.
func benchSubscribers(b *testing.B, n int, got func()) (*Broker, func()) {
	b.Helper()
	br := NewBroker(benchBuffer)
	var wg sync.WaitGroup
	subs := make([]*Subscription, n)
	for i := range subs {
		s := br.Subscribe()
		subs[i] = s
		wg.Go(func() {
			for {
				select {
				case <-s.Ready():
					for range s.Take() {
						got()
					}
				case <-s.Done():
					return
				}
			}
		})
	}
	return br, func() {
		if c := br.Count(); c != n {
			b.Fatalf("%d of %d subscribers were dropped", n-c, n)
		}
		for _, s := range subs {
			br.Unsubscribe(s)
		}
		wg.Wait()
	}
}

var benchSizes = []int{1, 100, 10000}

// BenchmarkBrokerPublish: the writer's cost of handing one event to every
// subscriber (it never waits for them).
func BenchmarkBrokerPublish(b *testing.B) {
	ev := []*ent.Event{{ID: 1}}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			br, stop := benchSubscribers(b, n, func() {})
			defer stop()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				br.Publish(ev)
				if i++; i%(benchBuffer/2) == 0 {
					b.StopTimer() // let the drainers catch up: the buffers are bounded
					for _, s := range snapshot(br) {
						for s.Len() > 0 {
							runtime.Gosched()
						}
					}
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkBrokerFanOut: from Publish until every subscriber's goroutine
// has received the event (the in-process part of delivery latency).
func BenchmarkBrokerFanOut(b *testing.B) {
	ev := []*ent.Event{{ID: 1}}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			var pending sync.WaitGroup
			br, stop := benchSubscribers(b, n, pending.Done)
			defer stop()
			b.ReportAllocs()
			for b.Loop() {
				pending.Add(n)
				br.Publish(ev)
				pending.Wait()
			}
		})
	}
}

// snapshot lists the current subscribers.
func snapshot(br *Broker) []*Subscription {
	br.mu.RLock()
	defer br.mu.RUnlock()
	out := make([]*Subscription, 0, len(br.subs))
	for s := range br.subs {
		out = append(out, s)
	}
	return out
}

// BenchmarkBrokerPublishTargeted: one event among subscribers of which only
// five want it (requestEvents of one request among many); the others are
// not woken up.
func BenchmarkBrokerPublishTargeted(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			br := NewBroker(benchBuffer)
			var wg sync.WaitGroup
			var pending sync.WaitGroup
			subs := make([]*Subscription, n)
			for i := range subs {
				want := int64(i % max(n/5, 1)) // five subscribers per value
				s := br.SubscribeWhere(func(e *ent.Event) bool { return e.ID == want })
				subs[i] = s
				wg.Go(func() {
					for {
						select {
						case <-s.Ready():
							for range s.Take() {
								pending.Done()
							}
						case <-s.Done():
							return
						}
					}
				})
			}
			ev := []*ent.Event{{ID: 0}}
			reached := min(n, 5)
			b.ReportAllocs()
			for b.Loop() {
				pending.Add(reached)
				br.Publish(ev)
				pending.Wait()
			}
			b.StopTimer()
			if c := br.Count(); c != n {
				b.Fatalf("%d of %d subscribers were dropped", n-c, n)
			}
			for _, s := range subs {
				br.Unsubscribe(s)
			}
			wg.Wait()
		})
	}
}

// TestSubscribeWhere: a subscriber gets only the events its match accepts,
// in order, and is not dropped for the others.
func TestSubscribeWhere(t *testing.T) {
	br := NewBroker(4)
	even := br.SubscribeWhere(func(e *ent.Event) bool { return e.ID%2 == 0 })
	all := br.Subscribe()
	var evs []*ent.Event
	for i := range int64(8) {
		evs = append(evs, &ent.Event{ID: i + 1})
	}
	br.Publish(evs) // 8 events, buffers of 4: only the filtered one keeps up
	<-even.Ready()
	var got []int64
	for _, e := range even.Take() {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, []int64{2, 4, 6, 8}) {
		t.Fatalf("got events %v, want 2, 4, 6, 8", got)
	}
	select {
	case <-even.Ready():
		t.Fatalf("ready again with %d events waiting", even.Len())
	default:
	}
	select {
	case <-even.Done():
		t.Fatalf("filtered subscriber dropped: %v", even.Err())
	default:
	}
	<-all.Done()
	if all.Err() == nil || br.Count() != 1 {
		t.Fatalf("the unfiltered subscriber should have been dropped as slow (err %v, %d left)", all.Err(), br.Count())
	}
}

// TestSubscriptionQueue: events wait in order, Ready fires once per wait
// (not per event), Take empties the queue, and a burst's room is not kept.
func TestSubscriptionQueue(t *testing.T) {
	br := NewBroker(1024)
	s := br.Subscribe()
	if s.waiting != nil || s.Len() != 0 {
		t.Fatal("an idle subscription holds a queue")
	}
	ready := func() bool {
		select {
		case <-s.Ready():
			return true
		default:
			return false
		}
	}
	ids := func(evs []*ent.Event) []int64 {
		var out []int64
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	var next int64
	publish := func(n int) {
		evs := make([]*ent.Event, n)
		for i := range evs {
			next++
			evs[i] = &ent.Event{ID: next}
		}
		br.Publish(evs)
	}
	publish(3)
	publish(2)
	if !ready() || ready() {
		t.Fatal("want exactly one wake-up for events published while the subscriber slept")
	}
	if got := ids(s.Take()); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("took %v", got)
	}
	if got := s.Take(); len(got) != 0 {
		t.Fatalf("a second take got %v", ids(got))
	}
	publish(1)
	if !ready() {
		t.Fatal("no wake-up for an event after an empty queue")
	}
	if got := ids(s.Take()); !slices.Equal(got, []int64{6}) {
		t.Fatalf("took %v", got)
	}
	publish(500) // a burst
	if got := s.Take(); len(got) != 500 || got[0].ID != 7 || got[499].ID != 506 {
		t.Fatalf("took %d events", len(got))
	}
	publish(1)
	s.Take()
	if cap(s.waiting) > 64 || cap(s.spare) > 64 {
		t.Fatalf("the burst's room is kept: %d and %d slots", cap(s.waiting), cap(s.spare))
	}
	if br.Count() != 1 {
		t.Fatal("the subscriber was dropped")
	}
}
