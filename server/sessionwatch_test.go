package server

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/viewer"
)

// countingAuth answers every token but the revoked ones, counting calls
// and how many run at once.
type countingAuth struct {
	mu       sync.Mutex
	calls    map[string]int
	revoked  map[string]bool
	running  atomic.Int32
	maxAtOne atomic.Int32
}

func (a *countingAuth) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	n := a.running.Add(1)
	defer a.running.Add(-1)
	for {
		m := a.maxAtOne.Load()
		if n <= m || a.maxAtOne.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(100 * time.Microsecond) // a check takes a while: they overlap
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[token]++
	if a.revoked[token] {
		return nil, apperr.New(apperr.Unauthenticated, "revoked")
	}
	return &viewer.Viewer{UserID: uuid.NewSHA1(uuid.Nil, []byte(token))}, nil
}

func (a *countingAuth) count(token string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[token]
}

// TestSessionWatcher: one scheduler re-checks many connections, a bounded
// number at a time, closes the revoked ones with their reason, forgets the
// ended ones, and stops when none is left.
func TestSessionWatcher(t *testing.T) {
	auth := &countingAuth{calls: map[string]int{}, revoked: map[string]bool{}}
	s := &server{auth: auth, log: slog.New(slog.DiscardHandler)}
	w := newSessionWatcher(s, time.Millisecond)
	type conn struct {
		token  string
		ctx    context.Context
		cancel context.CancelFunc
		st     *wsState
	}
	conns := make([]*conn, 200)
	for i := range conns {
		c := &conn{token: uuid.NewString(), st: &wsState{}}
		c.ctx, c.cancel = context.WithCancel(context.Background())
		conns[i] = c
		w.watch(c.ctx, c.cancel, c.st, c.token, &viewer.Viewer{UserID: uuid.NewSHA1(uuid.Nil, []byte(c.token))})
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
		}
	}
	eventually("every connection re-checked twice", func() bool {
		for _, c := range conns {
			if auth.count(c.token) < 2 {
				return false
			}
		}
		return true
	})
	if m, slots := auth.maxAtOne.Load(), cap(w.slots); m > int32(slots) {
		t.Fatalf("%d checks ran at once, more than the %d allowed", m, slots)
	}

	// Revoked: closed with the reason. Ended: no longer checked.
	auth.mu.Lock()
	for _, c := range conns[:50] {
		auth.revoked[c.token] = true
	}
	auth.mu.Unlock()
	for _, c := range conns[:50] {
		eventually("revoked connection closed", func() bool { return c.ctx.Err() != nil })
		if code, reason, _ := c.st.closeOverride(); code != CloseForbidden || reason != ReasonSessionEnded {
			t.Fatalf("closed with %d %q", code, reason)
		}
	}
	for _, c := range conns[50:] {
		if c.ctx.Err() != nil {
			t.Fatal("a connection whose session is valid was closed")
		}
		c.cancel()
	}
	// Stopped, and no check still in flight: one started before the cancel
	// may still be calling Authenticate (each holds a slot while it runs).
	eventually("the scheduler stops with no connection left", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return !w.running && len(w.queue) == 0 && len(w.slots) == 0
	})
	before := auth.count(conns[60].token)
	time.Sleep(20 * time.Millisecond)
	if after := auth.count(conns[60].token); after != before {
		t.Fatalf("an ended connection was checked again (%d → %d)", before, after)
	}

	// A new connection starts it again.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.watch(ctx, cancel, nil, "late", &viewer.Viewer{UserID: uuid.NewSHA1(uuid.Nil, []byte("late"))})
	eventually("a connection added after the stop is checked", func() bool { return auth.count("late") > 0 })
}
