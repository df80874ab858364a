package main

import (
	"fmt"
	"strings"
	"time"
)

// modeOneClient names the closed measurement with a single client.
const modeOneClient = "one client"

// report gathers the measurements of a run and renders them.
type report struct{ results []result }

func (r *report) add(res result) { r.results = append(r.results, res) }

func (r *report) find(scenario, target, mode string) *result {
	for i := range r.results {
		res := &r.results[i]
		if res.scenario == scenario && res.target == target && res.mode == mode {
			return res
		}
	}
	return nil
}

func (r *report) baselineOf(res *result) *result {
	for i := range r.results {
		b := &r.results[i]
		if b.scenario == res.scenario && b.mode == res.mode && b.kind == kindBaseline {
			return b
		}
	}
	return nil
}

// markdown renders the table and the targets.
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("| scenario | mode | load | throughput (op/s) | p50 | p90 | p99 | errors | baseline (op/s) | baseline p99 | ratio |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i := range r.results {
		res := &r.results[i]
		if res.kind != kindGraphQL {
			continue
		}
		load := res.load()
		base, bp99, ratio := "—", "—", "—"
		if bl := r.baselineOf(res); bl != nil {
			base = fmt.Sprintf("%.1f (%s)", bl.throughput(), bl.target)
			bp99 = fmtDur(bl.percentile(0.99))
			if bl.throughput() > 0 {
				ratio = fmt.Sprintf("%.2f", res.throughput()/bl.throughput())
				if lo, hi, _, ok := sliceRatios(res, bl); ok {
					ratio += fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
				}
			}
		}
		errs := fmt.Sprint(res.errs)
		if res.dropped > 0 {
			errs += fmt.Sprintf(" (+%d dropped)", res.dropped)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s |\n", res.scenario, res.mode, load,
			res.throughput(), fmtDur(res.percentile(0.5)), fmtDur(res.percentile(0.9)), fmtDur(res.percentile(0.99)),
			errs, base, bp99, ratio)
	}
	b.WriteString("\n| target (issue #7) | measured | met |\n|---|---|---|\n")
	ratioTarget := func(name, scenario string, want float64) {
		g, bl := r.find(scenario, "graphql", "closed"), (*result)(nil)
		if g != nil {
			bl = r.baselineOf(g)
		}
		if g == nil || bl == nil || bl.throughput() == 0 {
			return
		}
		x := g.throughput() / bl.throughput()
		spread := ""
		if lo, hi, n, ok := sliceRatios(g, bl); ok {
			spread = fmt.Sprintf("; %.2f–%.2f over %d alternating slices", lo, hi, n)
		}
		fmt.Fprintf(&b, "| %s ≥ %.1f × %s | %.2f (%.0f vs %.0f op/s%s) | %s |\n", name, want, bl.target, x, g.throughput(), bl.throughput(), spread, yes(x >= want))
	}
	ratioTarget("S1 GraphQL", "S1", 0.7)
	ratioTarget("S2 GraphQL", "S2", 0.7)
	ratioTarget("S3 GraphQL", "S3", 0.5)
	for _, s := range []string{"S1", "S2", "S4"} {
		one, many := r.find(s, "graphql", modeOneClient), r.find(s, "graphql", "closed")
		if one == nil {
			continue
		}
		p99, cell := one.percentile(0.99), "no closed run with more clients to compare"
		// Below saturation: more clients still got at least a tenth more
		// done (on a noisy machine, equal throughputs say nothing).
		below := many != nil && many.throughput() >= 1.1*one.throughput()
		if many != nil {
			verdict := "below saturation"
			if !below {
				verdict = "not below saturation: more clients did not serve a tenth more"
			}
			cell = fmt.Sprintf("%.0f op/s against %.0f with %d clients: %s", one.throughput(), many.throughput(), many.concurrency, verdict)
		}
		limit := ""
		if bl := r.baselineOf(one); bl != nil {
			limit = fmt.Sprintf("; baseline %s", fmtDur(bl.percentile(0.99)))
		}
		fmt.Fprintf(&b, "| %s p99 ≤ 10 ms at one client (%s) | %s%s | %s |\n", s, cell, fmtDur(p99), limit,
			yes(below && p99 > 0 && p99 <= 10*time.Millisecond && one.errs == 0))
	}
	for _, s := range []string{"S1", "S2", "S4"} {
		if o := r.find(s, "graphql", "open"); o != nil {
			p99 := o.percentile(0.99)
			fmt.Fprintf(&b, "| %s p99 ≤ 10 ms at %.0f/s (half the closed throughput) | %s | %s |\n", s, o.rate, fmtDur(p99),
				yes(p99 > 0 && p99.Milliseconds() <= 10 && o.errs == 0 && o.dropped == 0))
		}
	}
	if s1, s2 := r.find("S1", "graphql", "closed"), r.find("S2", "graphql", "closed"); s1 != nil && s2 != nil && s1.rowsPerSecond() > 0 {
		x := s2.rowsPerSecond() / s1.rowsPerSecond()
		fmt.Fprintf(&b, "| nested S2 ≥ 0.5 × flat S1 per row served | %.2f (%.0f vs %.0f rows/s) | %s |\n", x,
			s2.rowsPerSecond(), s1.rowsPerSecond(), yes(x >= 0.5))
	}
	b.WriteString(r.contenders())
	b.WriteString(r.writers())
	return b.String()
}

// writers renders, for the measurements whose server wrote on SQLite, how
// busy its single writer was: near 100 %, the writes queue behind one
// another and the database, not the CPUs, bounds the throughput.
func (r *report) writers() string {
	var b strings.Builder
	for i := range r.results {
		res := &r.results[i]
		share, per, turns, ok := res.writer()
		if !ok {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\n| scenario | mode | contender | load | SQLite writer held | per op | turns per op |\n")
			b.WriteString("|---|---|---|---|---:|---:|---:|\n")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f %% | %s | %.1f |\n", res.scenario, res.mode, res.target, res.load(),
			100*share, fmtDur(per), turns)
	}
	return b.String()
}

// contenders renders every contender of every measurement with its CPU
// cost per operation and the ratio of the server's (one instance)
// throughput to its own: against a baseline or a peer, the GraphQL / other
// ratio; against several instances, how much one instance does of what
// they do together.
func (r *report) contenders() string {
	var b strings.Builder
	b.WriteString("\n| scenario | mode | contender | load | op/s | p50 | p90 | p99 | errors | CPU/op this process | CPU/op peer | CPU/op PostgreSQL | GraphQL ÷ this |\n")
	b.WriteString("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i := range r.results {
		res := &r.results[i]
		load := res.load()
		ratio := "—"
		if g := r.find(res.scenario, "graphql", res.mode); g != nil && res.kind != kindGraphQL && res.throughput() > 0 {
			ratio = fmt.Sprintf("%.2f", g.throughput()/res.throughput())
		}
		cpu := func(d time.Duration, ok bool) string {
			if !ok || res.ops == 0 {
				return "—"
			}
			return fmtDur(res.cpuPerOp(d))
		}
		errs := fmt.Sprint(res.errs)
		if res.dropped > 0 {
			errs += fmt.Sprintf(" (+%d dropped)", res.dropped)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s |\n", res.scenario, res.mode,
			res.target, load, res.throughput(), fmtDur(res.percentile(0.5)), fmtDur(res.percentile(0.9)),
			fmtDur(res.percentile(0.99)), errs, cpu(res.cpu.self, true), cpu(res.cpu.peer, res.cpu.peerOK),
			cpu(res.cpu.db, res.cpu.dbOK), ratio)
	}
	return b.String()
}

// load is the load a measurement was taken under.
func (r *result) load() string {
	switch {
	case r.mode == "open":
		return fmt.Sprintf("%.0f/s offered", r.rate)
	case r.concurrency == 1:
		return "1 client"
	}
	return fmt.Sprintf("%d clients", r.concurrency)
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
