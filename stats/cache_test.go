package stats

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"passerelle/apperr"
	"passerelle/enums"
	"passerelle/viewer"
)

// clock is a settable time for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestCacheServesFreshStaleAndOld: a report is reused while fresh, served
// stale while a new one is computed behind it, and waited for when too old.
func TestCacheServesFreshStaleAndOld(t *testing.T) {
	db, w, observer := populated(t, 3, 30)
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	s := NewService(db.Client, CacheConfig{Fresh: 30 * time.Second, Stale: 5 * time.Minute, Now: clk.now})

	first, err := s.Compute(observer, Filter{})
	if err != nil || first.Requests != 30 || !first.ComputedAt.Equal(clk.now()) {
		t.Fatalf("first report: %v, %v", first, err)
	}
	randomRequests(t, viewer.System(context.Background()), db.Client, w, 4, 5) // 5 more requests

	clk.add(10 * time.Second)
	if r, _ := s.Compute(observer, Filter{}); r != first {
		t.Fatalf("a fresh report was not reused: %d requests computed at %s", r.Requests, r.ComputedAt)
	}
	// Stale: the old one at once; the new one is computed behind it.
	clk.add(30 * time.Second)
	if r, _ := s.Compute(observer, Filter{}); r != first {
		t.Fatalf("a stale report was not served at once: %d requests", r.Requests)
	}
	s.idle()
	second, _ := s.Compute(observer, Filter{})
	if second.Requests != 35 || !second.ComputedAt.Equal(clk.now()) {
		t.Fatalf("after the background computation: %d requests computed at %s, want 35 at %s",
			second.Requests, second.ComputedAt, clk.now())
	}
	// Too old: computed again before answering.
	randomRequests(t, viewer.System(context.Background()), db.Client, w, 5, 1)
	clk.add(6 * time.Minute)
	if r, _ := s.Compute(observer, Filter{}); r.Requests != 36 {
		t.Fatalf("a report older than the stale bound was served: %d requests", r.Requests)
	}

	// Without a cache, every request computes.
	off := NewService(db.Client, CacheConfig{Now: clk.now})
	a, _ := off.Compute(observer, Filter{})
	b, _ := off.Compute(observer, Filter{})
	if a == b {
		t.Error("with Fresh 0 a report was reused")
	}
}

// TestCacheKeepsReachesApart: a report is shared by the viewers of one reach
// and filter only; the right is checked before the cache.
func TestCacheKeepsReachesApart(t *testing.T) {
	db, w, observer := populated(t, 5, 40)
	s := NewService(db.Client, CacheConfig{Fresh: time.Hour, Stale: time.Hour})
	referent := signedIn(as(enums.ProfileStructureReferent, w.origins[0], enums.StructureKindMco))
	otherReferent := signedIn(as(enums.ProfileStructureReferent, w.origins[1], enums.StructureKindMco))

	region, _ := s.Compute(observer, Filter{})
	own, err := s.Compute(referent, Filter{})
	if err != nil || own == region || own.Requests >= region.Requests {
		t.Fatalf("a referent got the region's report (%d of %d requests): %v", own.Requests, region.Requests, err)
	}
	other, _ := s.Compute(otherReferent, Filter{})
	if other == own {
		t.Fatal("two structures' referents share a report")
	}
	// Another observer: the same reach, the same report.
	if r, _ := s.Compute(signedIn(as(enums.ProfileObserver, w.authority, enums.StructureKindAuthority)), Filter{}); r != region {
		t.Error("two observers do not share the region's report")
	}
	// Filters are part of the key; an empty département is not no filter.
	dep, empty := "75", ""
	for _, f := range []Filter{{Department: &dep}, {Department: &empty}} {
		if r, _ := s.Compute(observer, f); r == region {
			t.Errorf("filter %+v answered with the unfiltered report", f)
		}
	}
	if r, _ := s.Compute(observer, Filter{Department: &empty}); r.Requests != 0 {
		t.Errorf("an empty département matched %d requests", r.Requests)
	}
	// No right, no report, cached or not.
	_, err = s.Compute(signedIn(as(enums.ProfilePrescriberPhysician, w.origins[0], enums.StructureKindMco)), Filter{})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Forbidden {
		t.Fatalf("a prescriber: %v, want FORBIDDEN", err)
	}
}

// TestCacheComputesOnceForMany: concurrent requests for a report not yet
// computed wait for one computation; one who leaves does not stop it.
func TestCacheComputesOnceForMany(t *testing.T) {
	db, _, observer := populated(t, 6, 20)
	s := NewService(db.Client, CacheConfig{Fresh: time.Hour, Stale: time.Hour})
	gone, cancel := context.WithCancel(observer)
	cancel()
	if _, err := s.Compute(gone, Filter{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a request whose context ended: %v", err)
	}
	var wg sync.WaitGroup
	reports := make([]*Report, 8)
	for i := range reports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], _ = s.Compute(observer, Filter{})
		}()
	}
	wg.Wait()
	for _, r := range reports {
		if r == nil || r != reports[0] {
			t.Fatalf("concurrent requests got different reports: %p vs %p", r, reports[0])
		}
	}
}

// TestCacheBounded: beyond MaxReports the oldest report is dropped.
func TestCacheBounded(t *testing.T) {
	db, _, observer := populated(t, 7, 5)
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	s := NewService(db.Client, CacheConfig{Fresh: time.Hour, Stale: time.Hour, MaxReports: 3, Now: clk.now})
	for _, d := range []string{"75", "92", "93", "94"} {
		clk.add(time.Second)
		if _, err := s.Compute(observer, Filter{Department: &d}); err != nil {
			t.Fatal(err)
		}
	}
	s.idle()
	s.mu.Lock()
	n := len(s.reports)
	s.mu.Unlock()
	if n > 3 {
		t.Errorf("%d reports kept, want at most 3", n)
	}
}

// idle waits until no computation is in progress (tests).
func (s *Service) idle() {
	for {
		s.mu.Lock()
		var wait chan struct{}
		for _, c := range s.reports {
			if c.pending != nil {
				wait = c.pending
				break
			}
		}
		s.mu.Unlock()
		if wait == nil {
			return
		}
		<-wait
	}
}
