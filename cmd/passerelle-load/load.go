package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// limits bound every measurement.
type limits struct {
	warmup   time.Duration
	duration time.Duration
	maxOps   int64
	// window, when set, is called when the measured window opens (true)
	// and when it closes (false), the warm-up and the operations still in
	// flight after it being outside: the CPU meter's readings.
	window func(open bool)
}

// timeWindow calls l.window at measureFrom and at deadline, the opening
// always first; stop, when the loop ends, waits for both calls, or makes
// those still to come at once (a loop that ended early: the window closes
// with it).
func (l limits) timeWindow(measureFrom, deadline time.Time) (stop func()) {
	if l.window == nil {
		return func() {}
	}
	var wg sync.WaitGroup
	opened := make(chan struct{})
	open := func() { l.window(true); close(opened) }
	shut := func() { <-opened; l.window(false) }
	wg.Add(2)
	opening := time.AfterFunc(time.Until(measureFrom), func() { defer wg.Done(); open() })
	closing := time.AfterFunc(time.Until(deadline), func() { defer wg.Done(); shut() })
	return func() {
		if opening.Stop() {
			wg.Done()
			open()
		}
		if closing.Stop() {
			wg.Done()
			shut()
		}
		wg.Wait()
	}
}

// maxDuration caps a measurement, whatever the flags say.
const maxDuration = 30 * time.Second

// result is one measurement.
type result struct {
	scenario, target, mode string
	concurrency            int
	rate                   float64 // open model: offered rate
	elapsed                time.Duration
	ops, errs, dropped     int64
	ended                  int64 // operations that succeeded in the window (recorder.ended)
	rows                   int64
	lat                    []time.Duration
	firstErr               error
	kind                   string  // the contender's: kindGraphQL, kindInstances, kindBaseline, kindPeer
	cpu                    cpuCost // CPU used during the slices (see cpuMeter)
	// sliceOps are the operations of each alternating slice (measure), all
	// slices of one measurement being equally long: the spread of a ratio
	// from slice to slice (sliceRatios).
	sliceOps []int64
}

// sliceRatios is the lowest and highest ratio of a's operations to b's over
// the slices both ran (ok: at least two such slices).
func sliceRatios(a, b *result) (lo, hi float64, n int, ok bool) {
	for i := range min(len(a.sliceOps), len(b.sliceOps)) {
		if b.sliceOps[i] == 0 {
			continue
		}
		x := float64(a.sliceOps[i]) / float64(b.sliceOps[i])
		if n == 0 || x < lo {
			lo = x
		}
		if n == 0 || x > hi {
			hi = x
		}
		n++
	}
	return lo, hi, n, n >= 2
}

// cpuPerOp is a CPU time read over the measured window per operation that
// succeeded in it.
func (r *result) cpuPerOp(d time.Duration) time.Duration {
	if n := r.windowOps(); n > 0 {
		return d / time.Duration(n)
	}
	return 0
}

// windowOps are the operations the readings over the window are divided by.
func (r *result) windowOps() int64 {
	if r.ended > 0 {
		return r.ended
	}
	return r.ops
}

func (r *result) throughput() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

func (r *result) rowsPerSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.rows) / r.elapsed.Seconds()
}

func (r *result) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p * float64(len(r.lat)-1))
	return r.lat[i]
}

// recorder collects latencies of operations that complete inside the window.
type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	ops      atomic.Int64
	errs     atomic.Int64
	rows     atomic.Int64
	firstErr error
	// ended counts the operations that succeeded inside the measured
	// window, whenever they started: what the CPU read over the window
	// paid for (ops, those that both started and ended in it, is the
	// throughput's conservative count).
	ended atomic.Int64
}

// endedAt counts an operation that succeeded at t1 if t1 is in [from, to].
func (c *recorder) endedAt(t1, from, to time.Time, err error) {
	if err == nil && !t1.Before(from) && !t1.After(to) {
		c.ended.Add(1)
	}
}

func (c *recorder) record(d time.Duration, rows int, err error) {
	if err != nil {
		c.errs.Add(1)
		c.mu.Lock()
		if c.firstErr == nil {
			c.firstErr = err
		}
		c.mu.Unlock()
		return
	}
	c.ops.Add(1)
	c.rows.Add(int64(rows))
	c.mu.Lock()
	c.lat = append(c.lat, d)
	c.mu.Unlock()
}

func (c *recorder) result(scenario, target, mode string, elapsed time.Duration) result {
	c.mu.Lock()
	defer c.mu.Unlock()
	lat := slices.Clone(c.lat)
	slices.Sort(lat)
	return result{scenario: scenario, target: target, mode: mode, elapsed: elapsed, ops: c.ops.Load(),
		errs: c.errs.Load(), rows: c.rows.Load(), lat: lat, firstErr: c.firstErr, ended: c.ended.Load()}
}

// closedLoop runs op on n workers back to back: the closed model. Only
// operations that start after the warm-up and end before the deadline count.
func closedLoop(ctx context.Context, rec *recorder, op operation, n int, l limits) {
	start := time.Now()
	measureFrom := start.Add(l.warmup)
	deadline := measureFrom.Add(l.duration)
	defer l.timeWindow(measureFrom, deadline)()
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(5*time.Second))
	defer cancel()
	var wg sync.WaitGroup
	var issued atomic.Int64
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) || issued.Load() >= l.maxOps {
					return
				}
				rows, err := op(ctx, w)
				t1 := time.Now()
				rec.endedAt(t1, measureFrom, deadline, err)
				if t0.Before(measureFrom) || t1.After(deadline) {
					continue
				}
				issued.Add(1)
				rec.record(t1.Sub(t0), rows, err)
			}
		}()
	}
	wg.Wait()
}

// openLoop starts op at a fixed rate whatever the answers: the open model.
// Latency runs from the intended start, so a stalled server is not hidden
// (no coordinated omission). At most maxInFlight operations run at once;
// arrivals beyond are dropped and counted.
func openLoop(ctx context.Context, rec *recorder, op operation, rate float64, maxInFlight int, l limits) int64 {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	measureFrom := start.Add(l.warmup)
	deadline := measureFrom.Add(l.duration)
	defer l.timeWindow(measureFrom, deadline)()
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(5*time.Second))
	defer cancel()
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var dropped, issued int64
	for k := 0; ; k++ {
		intended := start.Add(time.Duration(k) * interval)
		if !intended.Before(deadline) || issued >= l.maxOps || ctx.Err() != nil {
			break
		}
		if d := time.Until(intended); d > 0 {
			time.Sleep(d)
		}
		select {
		case sem <- struct{}{}:
		default:
			if !intended.Before(measureFrom) {
				dropped++
			}
			continue
		}
		measured := !intended.Before(measureFrom)
		if measured {
			issued++
		}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer func() { <-sem }()
			rows, err := op(ctx, w)
			t1 := time.Now()
			rec.endedAt(t1, measureFrom, deadline, err)
			if measured && !t1.After(deadline.Add(2*time.Second)) {
				rec.record(t1.Sub(intended), rows, err)
			}
		}(k)
	}
	wg.Wait()
	return dropped
}

// contender is one side of a comparison: the server, a baseline, the
// server on several instances, a peer.
type contender struct {
	target string
	op     operation
	kind   string // kindGraphQL, kindInstances, kindBaseline or kindPeer
}

// Contender kinds.
const (
	kindGraphQL   = "graphql"   // the server, one instance
	kindInstances = "instances" // the server on several instances, round-robin
	kindBaseline  = "baseline"  // hand-written SQL (or raw transactions, SQL aggregates)
	kindPeer      = "peer"      // another GraphQL server (PostGraphile)
)

// measure runs the contenders in alternating slices (round 1: A then B,
// round 2: A then B, ...) so that both see the same machine: on a shared,
// noisy host the ratio holds even when absolute numbers drift. Each slice
// starts with a short warm-up; the first with the full one.
// meter (may be nil) accounts the CPU each contender's slices used.
// maxInFlight bounds the open model's operations in flight (arrivals
// beyond it are dropped and counted); the HTTP client keeps that many
// connections alive (newHTTPClient).
func maxInFlight(conc int) int { return max(conc, 1) * 16 }

func measure(ctx context.Context, scenario, mode string, cs []contender, conc int, rate float64, l limits, rounds int, meter *cpuMeter) []result {
	rounds = max(rounds, 1)
	recs := make([]*recorder, len(cs))
	dropped := make([]int64, len(cs))
	costs := make([]cpuCost, len(cs))
	sliceOps := make([][]int64, len(cs))
	for i := range recs {
		recs[i] = &recorder{}
	}
	slice := l.duration / time.Duration(rounds)
	for r := range rounds {
		for i, c := range cs {
			if ctx.Err() != nil {
				break
			}
			sl := limits{warmup: 300 * time.Millisecond, duration: slice, maxOps: l.maxOps / int64(rounds)}
			if r == 0 {
				sl.warmup = l.warmup
			}
			var opened, closed cpuSample
			sl.window = func(open bool) {
				if open {
					opened = meter.sample(ctx)
				} else {
					closed = meter.sample(ctx)
				}
			}
			ops := recs[i].ops.Load()
			if mode == "open" {
				dropped[i] += openLoop(ctx, recs[i], c.op, rate, maxInFlight(conc), sl)
			} else {
				closedLoop(ctx, recs[i], c.op, conc, sl)
			}
			costs[i].add(closed.since(opened))
			sliceOps[i] = append(sliceOps[i], recs[i].ops.Load()-ops)
		}
	}
	out := make([]result, len(cs))
	for i, c := range cs {
		res := recs[i].result(scenario, c.target, mode, slice*time.Duration(rounds))
		res.rate, res.dropped, res.concurrency, res.kind, res.cpu = rate, dropped[i], conc, c.kind, costs[i]
		res.sliceOps = sliceOps[i]
		errNote := ""
		if res.errs > 0 {
			errNote = fmt.Sprintf(" (%d errors; first: %v)", res.errs, res.firstErr)
		}
		if res.dropped > 0 {
			errNote += fmt.Sprintf(" (%d arrivals dropped: over %d in flight)", res.dropped, maxInFlight(conc))
		}
		fmt.Printf("  %-3s %-16s %-6s conc=%-3d rate=%-6.0f %8.1f op/s  p50 %-8s p90 %-8s p99 %-8s cpu/op %s%s\n",
			scenario, c.target, mode, conc, rate, res.throughput(), fmtDur(res.percentile(0.5)),
			fmtDur(res.percentile(0.9)), fmtDur(res.percentile(0.99)), cpuNote(&res), errNote)
		out[i] = res
	}
	return out
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// cpuNote is a result's CPU per operation, by process group.
func cpuNote(r *result) string {
	if r.ops == 0 {
		return "-"
	}
	s := "self " + fmtDur(r.cpuPerOp(r.cpu.self))
	if r.cpu.peerOK {
		s += " peer " + fmtDur(r.cpuPerOp(r.cpu.peer))
	}
	if r.cpu.dbOK {
		s += " pg " + fmtDur(r.cpuPerOp(r.cpu.db))
	}
	if share, per, turns, ok := r.writer(); ok {
		// What bounds the writes on SQLite: one writer at a time.
		s += fmt.Sprintf("; SQLite writer held %.0f%% of the time, %s and %.1f turns per op", 100*share, fmtDur(per), turns)
	}
	return s
}

// writer is SQLite's single writer during the window: the share of the
// time it was held, and per operation how long and how many turns (ok:
// the server wrote on SQLite). A baseline takes no turn: what turns its
// slices show are the server's own background writes, not its figures.
func (r *result) writer() (share float64, perOp time.Duration, turnsPerOp float64, ok bool) {
	if r.kind == kindBaseline || r.cpu.writeTurns == 0 || r.elapsed <= 0 || r.windowOps() == 0 {
		return 0, 0, 0, false
	}
	return r.cpu.writeHeld.Seconds() / r.elapsed.Seconds(), r.cpuPerOp(r.cpu.writeHeld),
		float64(r.cpu.writeTurns) / float64(r.windowOps()), true
}
