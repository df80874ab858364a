package auth

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestTouches(t *testing.T) {
	tt := touches{at: map[uuid.UUID]time.Time{}}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a, b := uuid.New(), uuid.New()
	if !tt.claim(a, t0) {
		t.Fatal("a first claim is refused")
	}
	if tt.claim(a, t0.Add(59*time.Second)) {
		t.Error("a second claim within the minute is granted")
	}
	if !tt.claim(b, t0) {
		t.Error("another session's claim is refused")
	}
	if !tt.claim(a, t0.Add(time.Minute)) {
		t.Error("a claim a minute later is refused")
	}
	// A failed write gives its claim back; an older claim's release does not
	// take a newer one away.
	tt.release(a, t0.Add(time.Minute))
	if !tt.claim(a, t0.Add(time.Minute+time.Second)) {
		t.Error("a claim after a release is refused")
	}
	tt.release(a, t0)
	if tt.claim(a, t0.Add(time.Minute+2*time.Second)) {
		t.Error("a stale release dropped the current claim")
	}

	// Beyond touchesSwept entries, the ones older than a minute are
	// forgotten, once a minute at most.
	for i := range touchesSwept {
		tt.at[uuid.New()] = t0.Add(-time.Duration(i) * time.Second)
	}
	now := t0.Add(2 * time.Minute)
	if !tt.claim(uuid.New(), now) {
		t.Fatal("a new session's claim is refused")
	}
	for _, at := range tt.at {
		if now.Sub(at) >= time.Minute {
			t.Fatalf("an entry of %v is kept at %v", at, now)
		}
	}
	for range touchesSwept {
		tt.at[uuid.New()] = t0
	}
	tt.claim(uuid.New(), now.Add(time.Second))
	if len(tt.at) < touchesSwept {
		t.Errorf("swept again within the minute: %d entries left", len(tt.at))
	}
}
