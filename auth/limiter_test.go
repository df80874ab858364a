package auth

import (
	"testing"
	"time"
)

// TestLimiterLocksAKeyThatKeepsFailing: a key slowed down but failing each
// time it is allowed must reach the lock, however long it takes.
func TestLimiterLocksAKeyThatKeepsFailing(t *testing.T) {
	l := NewLimiter(20, 100, 15*time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 100 {
		now = now.Add(l.Check("addr", now)) // wait exactly as told
		l.Fail("addr", now)
	}
	if wait := l.Check("addr", now); wait < 14*time.Minute {
		t.Fatalf("after 100 failures the key waits %v, want the 15 min lock", wait)
	}
	// Quiet for longer than the window: forgotten.
	now = now.Add(31 * time.Minute)
	if wait := l.Check("addr", now); wait != 0 {
		t.Fatalf("a quiet key still waits %v", wait)
	}
}
