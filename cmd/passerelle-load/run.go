package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

type runConfig struct {
	scenarios   []string
	mode        string
	concurrency int
	rate        float64
	limits      limits
	baseline    bool
	cpuprofile  string
	markdown    string
	rounds      int
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	st := storeFlags(fs)
	scenario := fs.String("scenario", "all", "S1 (receiver inbox), S2 (prescriber dashboard), S3 (workflow writes), S4 (statistics), or all; comma-separated")
	mode := fs.String("mode", "both", "closed (fixed concurrency), open (fixed rate) or both (closed, then open at half the closed throughput)")
	conc := fs.Int("concurrency", 8, "closed model: concurrent clients")
	rate := fs.Float64("rate", 0, "open model: arrivals per second (0 with --mode both: half the closed throughput)")
	duration := fs.Duration("duration", 10*time.Second, "measured time of each run (at most 30s)")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured time before each run")
	maxOps := fs.Int64("max-requests", 2_000_000, "at most this many measured operations per run")
	withBaseline := fs.Bool("baseline", true, "also measure the baselines (S1, S2: hand-written SQL over net/http; S3: raw write transactions)")
	cpuprofile := fs.String("cpuprofile", "", "after each closed measurement, profile one more run per contender into PREFIX-Sn-graphql.prof, PREFIX-Sn-baseline.prof")
	rounds := fs.Int("rounds", 5, "alternate the server and its baseline in this many slices per measurement")
	markdown := fs.String("markdown", "", "also write the result table to this file")
	serverLog := fs.Bool("log", false, "print the server's log (warnings and errors) on stderr")
	whatIf := fs.Bool("what-if", false, "EXPERIMENT, bench copies only: first create the indexes docs/performance.md proposes (not part of the product's migrations)")
	traceOnce := fs.Bool("trace", false, "run each scenario's operation once, printing the SQL statements the server sends and the time each took, then stop")
	_ = fs.Parse(args)

	if *duration > maxDuration {
		fmt.Fprintf(os.Stderr, "passerelle-load: --duration capped at %s\n", maxDuration)
		*duration = maxDuration
	}
	if *warmup > 10*time.Second {
		*warmup = 10 * time.Second
	}
	if *conc < 1 || *conc > 512 {
		return errors.New("--concurrency must be between 1 and 512")
	}
	if *rate < 0 || *rate > 50_000 {
		return errors.New("--rate must be between 0 and 50000")
	}
	cfg := runConfig{mode: *mode, concurrency: *conc, rate: *rate, baseline: *withBaseline, cpuprofile: *cpuprofile,
		markdown: *markdown, rounds: *rounds, limits: limits{warmup: *warmup, duration: *duration, maxOps: *maxOps}}
	switch cfg.mode {
	case "closed", "open", "both":
	default:
		return fmt.Errorf("--mode %q: closed, open or both", cfg.mode)
	}
	if cfg.mode == "open" && cfg.rate == 0 {
		return errors.New("--mode open needs --rate")
	}
	for _, s := range strings.Split(strings.ToUpper(*scenario), ",") {
		switch s = strings.TrimSpace(s); s {
		case "ALL":
			cfg.scenarios = append(cfg.scenarios, "S1", "S2", "S4", "S3")
		case "S1", "S2", "S3", "S4":
			cfg.scenarios = append(cfg.scenarios, s)
		default:
			return fmt.Errorf("unknown scenario %q", s)
		}
	}

	var tr *tracer
	var traceFn func(context.Context, string)
	if *traceOnce {
		tr = &tracer{}
		traceFn = tr.trace
	}
	t, err := startTarget(ctx, *st, *conc, traceFn, *serverLog)
	if err != nil {
		return err
	}
	defer t.close()
	if *whatIf {
		if err := applyWhatIf(ctx, t); err != nil {
			return err
		}
	}
	if tr != nil {
		return traceScenarios(ctx, t, tr, cfg.scenarios)
	}
	var base *baseline
	if cfg.baseline {
		if base, err = startBaseline(t.app.DB.SQL, t.dialect); err != nil {
			return err
		}
		defer base.close()
	}
	if err := t.check(ctx, base); err != nil {
		return err
	}
	fmt.Printf("server %s on %s (%s), GOMAXPROCS %d, load average %s\n", t.url, t.app.DB.Where, t.dialect, runtime.GOMAXPROCS(0), loadavg())
	defer func() { fmt.Printf("load average at the end: %s\n", loadavg()) }()

	var rep report
	for _, s := range cfg.scenarios {
		if ctx.Err() != nil {
			break
		}
		if err := cfg.scenario(ctx, t, base, s, &rep); err != nil {
			return err
		}
	}
	md := rep.markdown()
	fmt.Println()
	fmt.Print(md)
	if cfg.markdown != "" {
		return os.WriteFile(cfg.markdown, []byte(md), 0o644)
	}
	return nil
}

// scenario measures one scenario (and its baseline) into rep.
func (cfg runConfig) scenario(ctx context.Context, t *target, base *baseline, s string, rep *report) error {
	var op, baseOp operation
	baseName := "baseline"
	conc := cfg.concurrency
	switch s {
	case "S1":
		op = t.s1()
		if base != nil {
			baseOp = t.getOp(fmt.Sprintf("%s/inbox?unitId=%s&first=%d", base.url, t.unitID, pageSize), t.receiver.token, pageSize)
		}
	case "S2":
		op = t.s2()
		if base != nil {
			baseOp = t.getOp(fmt.Sprintf("%s/dashboard?first=%d", base.url, pageSize), t.prescriber.token, pageSize)
		}
	case "S3":
		op = t.s3()
		if base != nil {
			baseOp, baseName = (&rawWorkflow{db: t.app.DB.SQL, pg: base.pg, t: t}).op(), "raw SQL"
		}
	case "S4":
		op = t.s4()
		conc = min(conc, 2) // each call aggregates the whole region
		if base != nil {
			baseOp, baseName = t.getOp(base.url+"/statistics", t.observer.token, 0), "SQL aggr."
		}
	}
	cs := []contender{{"graphql", op}}
	if baseOp != nil {
		cs = append(cs, contender{baseName, baseOp})
	}
	// Probe: an operation slower than a quarter of a slice would straddle
	// slice ends and never count; use fewer, longer slices then.
	rounds := cfg.rounds
	var slowest time.Duration
	for _, c := range cs {
		began := time.Now()
		_, _ = c.op(ctx, 0)
		slowest = max(slowest, time.Since(began))
	}
	for rounds > 1 && slowest*time.Duration(max(conc/2, 1))*4 > cfg.limits.duration/time.Duration(rounds) {
		rounds--
	}
	fmt.Printf("%s: (one operation: %s; %d alternating slice(s))\n", s, fmtDur(slowest), rounds)
	var closed result
	if cfg.mode != "open" {
		res := measure(ctx, s, "closed", cs, conc, 0, cfg.limits, rounds)
		closed = res[0]
		for _, r := range res {
			rep.add(r)
		}
		if cfg.cpuprofile != "" {
			// Profiles come from separate runs, one per contender.
			l := cfg.limits
			l.duration /= 2
			for _, c := range cs {
				stop, err := startCPUProfile(fmt.Sprintf("%s-%s-%s.prof", cfg.cpuprofile, s, strings.ReplaceAll(c.target, " ", "-")))
				if err != nil {
					return err
				}
				fmt.Printf("  (profiling %s)\n", c.target)
				measure(ctx, s, "closed", []contender{c}, conc, 0, l, 1)
				stop()
			}
		}
	}
	if cfg.mode != "closed" && s != "S3" {
		rate := cfg.rate
		if rate == 0 {
			rate = closed.throughput() / 2
		}
		if rate >= 1 {
			for _, r := range measure(ctx, s, "open", cs, conc, rate, cfg.limits, rounds) {
				rep.add(r)
			}
		}
	}
	return nil
}

// check runs each read once and verifies the pages hold what the
// scenarios claim (50 rows), for the server and the baseline alike.
func (t *target) check(ctx context.Context, base *baseline) error {
	var inbox struct {
		Inbox struct {
			TotalCount int
			Edges      []json.RawMessage
		}
	}
	if err := t.gql(ctx, t.receiver.token, inboxDoc, "Inbox", map[string]any{"unitId": t.unitID, "first": pageSize}, &inbox); err != nil {
		return err
	}
	var dash struct {
		AdmissionRequests struct {
			TotalCount int
			Edges      []json.RawMessage
		}
	}
	if err := t.gql(ctx, t.prescriber.token, dashboardDoc, "Dashboard", map[string]any{"first": pageSize}, &dash); err != nil {
		return err
	}
	if len(inbox.Inbox.Edges) != pageSize || len(dash.AdmissionRequests.Edges) != pageSize {
		return fmt.Errorf("the data set is too small: inbox page %d rows, dashboard page %d rows (want %d)",
			len(inbox.Inbox.Edges), len(dash.AdmissionRequests.Edges), pageSize)
	}
	fmt.Printf("S1 inbox of USP Sainte-Périne as %s: %d dispatches in all\n", t.receiver.email, inbox.Inbox.TotalCount)
	fmt.Printf("S2 dashboard of Hôpital des Diaconesses as %s: %d requests in all\n", t.prescriber.email, dash.AdmissionRequests.TotalCount)
	if base != nil {
		for _, u := range []struct{ url, token string }{
			{fmt.Sprintf("%s/inbox?unitId=%s&first=%d", base.url, t.unitID, pageSize), t.receiver.token},
			{fmt.Sprintf("%s/dashboard?first=%d", base.url, pageSize), t.prescriber.token},
		} {
			if _, err := t.getOp(u.url, u.token, 0)(ctx, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// whatIfIndexes are the index proposals of docs/performance.md. --what-if
// creates them in the database under test to measure their gain before
// anyone changes the ent schema; they are not in the product's migrations,
// so use it on a copy made for benchmarking only.
var whatIfIndexes = []string{
	// The row rule on patients is EXISTS (… admission_requests WHERE
	// patient_id = patients.id …): without it, a full scan per patient.
	"CREATE INDEX IF NOT EXISTS admissionrequest_patient_id ON admission_requests (patient_id)",
	// Inbox totalCount is COUNT(dispatches.id) under the dispatch row rule
	// (which reads request_id): covered, no table lookup per dispatch.
	"CREATE INDEX IF NOT EXISTS dispatch_unit_id_sent_at_id_request_id ON dispatches (unit_id, sent_at, id, request_id)",
	// Dashboard: COUNT(admission_requests.id) and the first page in id
	// order for one structure, from the index alone.
	"CREATE INDEX IF NOT EXISTS admissionrequest_origin_structure_id_id ON admission_requests (origin_structure_id, id)",
}

func applyWhatIf(ctx context.Context, t *target) error {
	for _, ddl := range whatIfIndexes {
		began := time.Now()
		if _, err := t.app.DB.SQL.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("what-if: %s: %w", ddl, err)
		}
		fmt.Printf("what-if: %s (%s)\n", ddl, fmtDur(time.Since(began)))
	}
	return nil
}

// loadavg reads /proc/loadavg (other processes share the machine).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
