package auth

import (
	"sync"
	"time"
)

// Limiter is the reference of the sign-in throttling rules, in memory:
// DBThrottle (what the Service uses, shared by the instances through the
// database) must give the same waits, which the tests check. It lives in a
// test file so that production code holds the rules once.
type Limiter struct {
	mu      sync.Mutex
	entries map[string]*attempts
	// SlowAfter failures, each further attempt must wait 2^(n-SlowAfter) s.
	SlowAfter int
	// LockAfter failures, the key is locked for LockFor.
	LockAfter int
	LockFor   time.Duration
	// Window of quiet (no failure) after which failures are forgotten. It
	// counts from the last failure, so a key that keeps failing while slowed
	// goes on towards the lock.
	Window time.Duration
}

type attempts struct {
	failures    int
	last        time.Time
	nextAllowed time.Time
}

// NewLimiter returns a limiter with the given thresholds.
func NewLimiter(slowAfter, lockAfter int, lockFor time.Duration) *Limiter {
	return &Limiter{entries: map[string]*attempts{}, SlowAfter: slowAfter, LockAfter: lockAfter,
		LockFor: lockFor, Window: lockFor}
}

// Check returns how long the key must still wait (0: go ahead).
func (l *Limiter) Check(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.entries[key]
	if a == nil {
		return 0
	}
	if now.Sub(a.last) > l.Window && now.After(a.nextAllowed) {
		delete(l.entries, key)
		return 0
	}
	if now.Before(a.nextAllowed) {
		return a.nextAllowed.Sub(now)
	}
	return 0
}

// Fail records a failure.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.entries[key]
	if a == nil || (now.Sub(a.last) > l.Window && now.After(a.nextAllowed)) {
		a = &attempts{}
		l.entries[key] = a
	}
	a.failures++
	a.last = now
	switch {
	case a.failures >= l.LockAfter:
		a.nextAllowed = now.Add(l.LockFor)
	case a.failures >= l.SlowAfter:
		a.nextAllowed = now.Add(time.Second << min(a.failures-l.SlowAfter, 8))
	}
	if len(l.entries) > 100_000 { // bound memory under a spray
		for k, e := range l.entries {
			if now.Sub(e.last) > l.Window && now.After(e.nextAllowed) {
				delete(l.entries, k)
			}
		}
	}
}

// Reset forgets a key (after a successful sign-in).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}
