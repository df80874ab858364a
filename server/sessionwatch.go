package server

import (
	"container/heap"
	"context"
	"runtime"
	"sync"
	"time"

	"passerelle/server/reqctx"
	"passerelle/viewer"
)

// sessionWatcher re-authenticates the token of every open websocket
// connection and SSE stream every ReauthInterval while it lives. When the
// token no longer authenticates (session revoked, expired, idle; account
// disabled) or the viewer lost something it had when the connection opened
// (a habilitation, a receiving unit), it closes the connection: cancelling
// the context returned by InitFunc makes gqlgen stop every subscription of
// the connection and close it, with the code and reason recorded in its
// wsState. The client may reconnect; it then gets a fresh viewer, or 4403
// at connection_init.
//
// One scheduler for all connections, not a goroutine and a ticker each: at
// 10 000 connections those were 10 000 goroutines whose stacks had grown
// deep in Authenticate (docs/benchmarks.md). The scheduler keeps the
// connections by the time of their next check, runs at most
// max(4, 2 × GOMAXPROCS) checks at once, and stops when no connection is
// left.
type sessionWatcher struct {
	s     *server
	every time.Duration
	slots chan struct{} // one per check running

	mu      sync.Mutex
	queue   watchQueue
	running bool          // the scheduler goroutine runs
	wake    chan struct{} // a connection was added or put back
}

// watch is one connection's re-authentication.
type watch struct {
	ctx       context.Context // the connection's; its end ends the watch
	closeConn context.CancelFunc
	st        *wsState // where the close code goes (nil for SSE)
	token     string
	initial   *viewer.Viewer
	failures  int // checks in a row that could not run
	next      time.Time
}

func newSessionWatcher(s *server, every time.Duration) *sessionWatcher {
	return &sessionWatcher{s: s, every: every, slots: make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0))),
		wake: make(chan struct{}, 1)}
}

// watch starts re-checking a connection's token every interval, the first
// time one interval from now, until ctx ends.
func (w *sessionWatcher) watch(ctx context.Context, closeConn context.CancelFunc, st *wsState, token string, initial *viewer.Viewer) {
	w.schedule(&watch{ctx: ctx, closeConn: closeConn, st: st, token: token, initial: initial})
}

// schedule queues wt for one interval from now.
func (w *sessionWatcher) schedule(wt *watch) {
	wt.next = time.Now().Add(w.every)
	w.mu.Lock()
	heap.Push(&w.queue, wt)
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go w.run()
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run starts the checks that are due, in order, until no connection is
// left (a check in progress schedules its connection again, and restarts
// run if needed).
func (w *sessionWatcher) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		first := w.queue[0]
		if wait := time.Until(first.next); wait > 0 {
			w.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-w.wake:
			}
			continue
		}
		heap.Pop(&w.queue)
		w.mu.Unlock()
		if first.ctx.Err() != nil {
			continue // the connection ended
		}
		w.slots <- struct{}{}
		go func() {
			defer func() { <-w.slots }()
			if w.check(first) {
				w.schedule(first)
			}
		}()
	}
}

// check re-authenticates one connection's token; false when it closed the
// connection (or the connection ended meanwhile).
func (w *sessionWatcher) check(wt *watch) bool {
	ctx := wt.ctx
	actx, cancel := context.WithTimeout(ctx, authTimeout)
	v, err := w.s.auth.Authenticate(actx, wt.token)
	cancel()
	if ctx.Err() != nil {
		return false
	}
	code, reason := CloseForbidden, ""
	switch {
	case err != nil && !credentialsRejected(err):
		// The check itself failed (database unreachable, timeout): not a
		// revocation. Tolerated a few times; then the connection is closed
		// as "try again later", and the client reconnects.
		wt.failures++
		w.s.log.WarnContext(ctx, "websocket re-authentication failed", "request_id", reqctx.RequestID(ctx),
			"error", err, "consecutive_failures", wt.failures)
		if wt.failures < reauthFailuresTolerated {
			return true
		}
		code, reason = CloseTryAgainLater, ReasonCannotRecheck
	case err != nil || v == nil:
		reason = ReasonSessionEnded
	case !stillCovers(v, wt.initial):
		reason = ReasonHabilitationRevoked
	default:
		wt.failures = 0
		return true
	}
	w.s.log.InfoContext(ctx, "closing websocket: credentials no longer valid or not checkable", "request_id", reqctx.RequestID(ctx),
		"code", code, "reason", reason, "error", err)
	if wt.st != nil {
		wt.st.setClose(code, reason)
	}
	wt.closeConn()
	return false
}

// watchQueue is a heap of watches by next check.
type watchQueue []*watch

func (q watchQueue) Len() int           { return len(q) }
func (q watchQueue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q watchQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *watchQueue) Push(x any)        { *q = append(*q, x.(*watch)) }

func (q *watchQueue) Pop() any {
	old := *q
	n := len(old)
	wt := old[n-1]
	old[n-1] = nil
	*q = old[:n-1]
	return wt
}
