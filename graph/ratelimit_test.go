package graph

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestMutationLimiter(t *testing.T) {
	l := newMutationLimiter(60, 3) // one per second, burst 3
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	alice, bob := uuid.New(), uuid.New()
	for i := range 3 {
		if ok, _ := l.allow(alice); !ok {
			t.Fatalf("burst token %d refused", i)
		}
	}
	ok, wait := l.allow(alice)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("fourth mutation: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow(bob); !ok {
		t.Fatal("another user is limited by alice's bucket")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow(alice); !ok {
		t.Fatal("a token should have come back after a second")
	}
}
