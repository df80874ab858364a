package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"passerelle/internal/gctune"
	"passerelle/internal/hostload"
	"passerelle/stats"
	"passerelle/store"
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
	// oneClient: with a closed measurement, the reads (S1, S2, S4) are also
	// measured with a single client, the load at which the p99
	// target ("at a concurrency below saturation") is read.
	oneClient bool
	// instances > 1 (S6): S1, S2 and S3 are also measured against that many
	// instances on the same PostgreSQL database, clients round-robin.
	instances int
	// peers (--peer) are measured in S1's slices: PostGraphile variants.
	peers       []string
	peerDir     string
	peerWorkers int
	peerPool    int
	meter       *cpuMeter
}

// runOptions are the parsed flags of run.
type runOptions struct {
	cfg   runConfig
	store store.Config
	log   bool
	trace bool
	// gcPercent is the collector setting of the process (gctune).
	gcPercent int
	// serving is how the server serves (app.Config).
	serving serving
}

// parseRun reads and checks the flags of run; usage and errors go to out.
func parseRun(args []string, out io.Writer) (*runOptions, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(out)
	st := storeFlags(fs)
	scenario := fs.String("scenario", "all", "S1 (receiver inbox), S2 (prescriber dashboard), S3 (workflow writes), S4 (statistics), all (S1, S2, S4, S3), or S6 (S1, S2, S3 on one and on --instances instances, default 2; PostgreSQL); comma-separated")
	mode := fs.String("mode", "both", "closed (fixed concurrency), open (fixed rate) or both (closed, then open at half the closed throughput)")
	conc := fs.Int("concurrency", 8, "closed model: concurrent clients")
	rate := fs.Float64("rate", 0, "open model: arrivals per second (0 with --mode both: half the closed throughput)")
	duration := fs.Duration("duration", 10*time.Second, "measured time of each run (at most 30s)")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured time before each run")
	maxOps := fs.Int64("max-requests", 2_000_000, "at most this many measured operations per run")
	withBaseline := fs.Bool("baseline", true, "also measure the baselines (S1, S2: hand-written SQL over net/http; S3: raw write transactions)")
	cpuprofile := fs.String("cpuprofile", "", "after each closed measurement, profile one more run per contender into PREFIX-Sn-graphql.prof, PREFIX-Sn-baseline.prof")
	oneClient := fs.Bool("one-client", true, "with --mode closed or both, also measure S1, S2 and S4 with a single client (closed model): the load below saturation at which the p99 target is read")
	rounds := fs.Int("rounds", 5, "alternate the server and its baseline in this many slices per measurement")
	markdown := fs.String("markdown", "", "also write the result table to this file")
	serverLog := fs.Bool("log", false, "print the server's log (warnings and errors) on stderr")
	traceOnce := fs.Bool("trace", false, "run each scenario's operation once, printing the SQL statements the server sends and the time each took, then stop")
	instances := fs.Int("instances", 0, "S6, PostgreSQL only: also serve S1, S2 and S3 from this many instances (app.New each, own pool, listener and broker, own loopback port) on the same database, clients round-robin, in the same slices as one instance (default 1; 2 with --scenario S6; at most 4)")
	peer := fs.String("peer", "", "PostgreSQL only, with S1: also measure the inbox served by PostGraphile (bench/postgraphile, a child process): postgraphile (no authentication, no row rules), postgraphile-rls (session and row rules as PostgreSQL row-level security; CHANGES THE DATABASE: bench copies only), or both")
	peerDir := fs.String("peer-dir", filepath.Join("bench", "postgraphile"), "directory of the peer (server.js, package-lock.json); npm ci runs there if node_modules is missing")
	peerWorkers := fs.Int("peer-workers", 2, "peer processes sharing its port (node:cluster; one Node.js process uses one core)")
	peerPool := fs.Int("peer-pool", 10, "PostgreSQL connections per peer variant and process")
	resolversOnly := fs.Bool("resolvers-only", false, "as passerelle serve --direct-reads=false: every field through gqlgen's resolvers (to measure what the direct reads change)")
	statsFresh := fs.Duration("statistics-fresh", stats.DefaultFresh, "as passerelle serve --statistics-fresh: S4 reuses a computed report this long (0: S4 measures the computation itself)")
	statsStale := fs.Duration("statistics-stale", stats.DefaultStale, "as passerelle serve --statistics-stale")
	gcPercent := fs.Int("gc-percent", gctune.DefaultPercent, "as passerelle serve --gc-percent (this process serves and measures: the baselines run under the same setting)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}

	if *duration > maxDuration {
		fmt.Fprintf(out, "passerelle-load: --duration capped at %s\n", maxDuration)
		*duration = maxDuration
	}
	if *warmup > 10*time.Second {
		*warmup = 10 * time.Second
	}
	if *conc < 1 || *conc > 512 {
		return nil, errors.New("--concurrency must be between 1 and 512")
	}
	if *rate < 0 || *rate > 50_000 {
		return nil, errors.New("--rate must be between 0 and 50000")
	}
	cfg := runConfig{mode: *mode, concurrency: *conc, rate: *rate, baseline: *withBaseline, cpuprofile: *cpuprofile,
		markdown: *markdown, rounds: *rounds, oneClient: *oneClient, limits: limits{warmup: *warmup, duration: *duration, maxOps: *maxOps},
		instances: *instances, peerDir: *peerDir, peerWorkers: *peerWorkers, peerPool: *peerPool}
	switch cfg.mode {
	case "closed", "open", "both":
	default:
		return nil, fmt.Errorf("--mode %q: closed, open or both", cfg.mode)
	}
	if cfg.mode == "open" && cfg.rate == 0 {
		return nil, errors.New("--mode open needs --rate")
	}
	s6 := false
	add := func(ss ...string) {
		for _, s := range ss {
			if !slices.Contains(cfg.scenarios, s) {
				cfg.scenarios = append(cfg.scenarios, s)
			}
		}
	}
	for _, s := range strings.Split(strings.ToUpper(*scenario), ",") {
		switch s = strings.TrimSpace(s); s {
		case "ALL":
			add("S1", "S2", "S4", "S3")
		case "S1", "S2", "S3", "S4":
			add(s)
		case "S6":
			s6 = true
			add("S1", "S2", "S3")
		default:
			return nil, fmt.Errorf("unknown scenario %q", s)
		}
	}
	switch {
	case cfg.instances == 0 && s6:
		cfg.instances = 2
	case cfg.instances == 0:
		cfg.instances = 1
	case cfg.instances == 1 && s6:
		return nil, errors.New("--scenario S6 compares one instance with several: --instances must be 2 or more")
	case cfg.instances < 1 || cfg.instances > 4:
		return nil, errors.New("--instances must be between 1 and 4")
	}
	var err error
	if cfg.peers, err = parsePeers(*peer); err != nil {
		return nil, err
	}
	if cfg.peerWorkers < 1 || cfg.peerWorkers > 16 {
		return nil, errors.New("--peer-workers must be between 1 and 16")
	}
	if cfg.peerPool < 1 || cfg.peerPool > 100 {
		return nil, errors.New("--peer-pool must be between 1 and 100")
	}
	pg := store.IsPostgres(st.DatabaseURL)
	if cfg.instances > 1 && !pg {
		return nil, errors.New("several instances share a PostgreSQL database only: --instances/S6 need --database-url postgres://…")
	}
	if len(cfg.peers) > 0 && !pg {
		return nil, errors.New("the PostGraphile peer serves PostgreSQL only: --peer needs --database-url postgres://…")
	}
	if len(cfg.peers) > 0 && !slices.Contains(cfg.scenarios, "S1") {
		return nil, errors.New("the peer serves the receiver inbox: --peer needs scenario S1")
	}
	if *traceOnce && (cfg.instances > 1 || len(cfg.peers) > 0) {
		return nil, errors.New("--trace traces one instance's statements: without --instances and --peer")
	}
	return &runOptions{cfg: cfg, store: *st, log: *serverLog, trace: *traceOnce, gcPercent: *gcPercent,
		serving: serving{resolversOnly: *resolversOnly, statistics: stats.CacheConfig{Fresh: *statsFresh, Stale: *statsStale}}}, nil
}

func run(ctx context.Context, args []string) error {
	o, err := parseRun(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg := o.cfg
	gc := gctune.Apply(o.gcPercent, 0)

	var tr *tracer
	var traceFn func(context.Context, string)
	if o.trace {
		tr = &tracer{}
		traceFn = tr.trace
	}
	t, err := startTarget(ctx, o.store, cfg.concurrency, traceFn, o.log, o.serving)
	if err != nil {
		return err
	}
	defer t.close()
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
	fmt.Printf("server %s on %s (%s), GOMAXPROCS %d, %s, load average %s\n", t.url, t.app.DB.Where, t.dialect, runtime.GOMAXPROCS(0), gc, hostload.Average())
	fmt.Printf("schema: migrations %s\n", schemaVersion(ctx, t))
	if sc := o.serving.statistics; sc.Fresh > 0 {
		fmt.Printf("statistics: a report is reused %s, served stale up to %s (S4 measures mostly reuse; --statistics-fresh 0 measures the computation; the SQL baseline always computes)\n", sc.Fresh, max(sc.Stale, sc.Fresh))
	} else {
		fmt.Println("statistics: computed on every request")
	}
	defer func() { fmt.Printf("load average at the end: %s\n", hostload.Average()) }()
	if t.dialect == dialect.Postgres {
		cfg.meter = &cpuMeter{db: t.app.DB.SQL}
	} else {
		cfg.meter = &cpuMeter{gate: t.app.DB.WriteGate}
	}
	if cfg.instances > 1 {
		heap, goroutines := heapInUse(), runtime.NumGoroutine()
		if err := t.addInstances(ctx, cfg.instances); err != nil {
			return err
		}
		fmt.Printf("instances: %d on the same database (%s); the others added %.1f MiB of Go heap in use and %d goroutines (idle)\n",
			cfg.instances, strings.Join(t.urls(), ", "), float64(heapInUse()-heap)/(1<<20), runtime.NumGoroutine()-goroutines)
		if err := t.checkInstances(ctx); err != nil {
			return err
		}
		defer t.printConnections(ctx)
	}
	var peer *peerProc
	if len(cfg.peers) > 0 {
		if peer, err = startPeer(ctx, cfg.peerDir, o.store.DatabaseURL, cfg.peers, cfg.peerWorkers, cfg.peerPool); err != nil {
			return err
		}
		defer peer.close()
		fmt.Printf("peer: %s at %s\n", peer.info, peer.url)
		cfg.meter.peerPID = peer.pid()
		if err := t.checkPeer(ctx, peer, cfg.peers); err != nil {
			return err
		}
	}

	var rep report
	for _, s := range cfg.scenarios {
		if ctx.Err() != nil {
			break
		}
		if err := cfg.scenario(ctx, t, base, peer, s, &rep); err != nil {
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

// scenario measures one scenario (and its baseline, the server on several
// instances, the peers) into rep.
func (cfg runConfig) scenario(ctx context.Context, t *target, base *baseline, peer *peerProc, s string, rep *report) error {
	var op, baseOp operation
	baseName := "baseline"
	conc := cfg.concurrency
	var several operation // the same on every instance, round-robin
	switch s {
	case "S1":
		op = t.s1()
		if base != nil {
			baseOp = t.getOp(fmt.Sprintf("%s/inbox?unitId=%s&first=%d", base.url, t.unitID, pageSize), t.receiver.token, pageSize)
		}
		several = t.s1On(t.urls())
	case "S2":
		op = t.s2()
		if base != nil {
			baseOp = t.getOp(fmt.Sprintf("%s/dashboard?first=%d", base.url, pageSize), t.prescriber.token, pageSize)
		}
		several = t.s2On(t.urls())
	case "S3":
		op = t.s3()
		if base != nil {
			baseOp, baseName = (&rawWorkflow{db: t.app.DB.SQL, pg: base.pg, t: t}).op(), "raw SQL"
		}
		several = t.s3On(t.urls())
	case "S4":
		op = t.s4()
		conc = min(conc, 2) // each call aggregates the whole region
		if base != nil {
			baseOp, baseName = t.getOp(base.url+"/statistics", t.observer.token, 0), "SQL aggr."
		}
	}
	cs := []contender{{"graphql", op, kindGraphQL}}
	if several != nil && len(t.instances) > 1 {
		cs = append(cs, contender{fmt.Sprintf("graphql ×%d", len(t.instances)), several, kindInstances})
	}
	if baseOp != nil {
		cs = append(cs, contender{baseName, baseOp, kindBaseline})
	}
	if s == "S1" && peer != nil {
		for _, p := range cfg.peers {
			cs = append(cs, contender{p, t.peerOp(peer, p), kindPeer})
		}
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
		var live *liveWatch
		if s == "S3" && len(t.instances) > 1 {
			var err error
			if live, err = t.watchLive(ctx); err != nil {
				return err
			}
		}
		res := measure(ctx, s, "closed", cs, conc, 0, cfg.limits, rounds, cfg.meter)
		closed = res[0]
		if live != nil {
			live.report(ctx, t)
		}
		for _, r := range res {
			rep.add(r)
		}
		if cfg.cpuprofile != "" {
			// Profiles come from separate runs, one per contender.
			l := cfg.limits
			l.duration /= 2
			for _, c := range cs {
				stop, err := startCPUProfile(fmt.Sprintf("%s-%s-%s.prof", cfg.cpuprofile, s, strings.NewReplacer(" ", "-", "×", "x").Replace(c.target)))
				if err != nil {
					return err
				}
				fmt.Printf("  (profiling %s)\n", c.target)
				measure(ctx, s, "closed", []contender{c}, conc, 0, l, 1, cfg.meter)
				stop()
			}
		}
	}
	if cfg.mode != "open" && cfg.oneClient && s != "S3" && conc > 1 {
		// Below saturation by construction when the closed run above served
		// more with conc clients (the report says whether it did).
		for _, r := range measure(ctx, s, modeOneClient, cs, 1, 0, cfg.limits, rounds, cfg.meter) {
			rep.add(r)
		}
	}
	if cfg.mode != "closed" && s != "S3" {
		rate := cfg.rate
		if rate == 0 {
			rate = closed.throughput() / 2
		}
		if rate >= 1 {
			for _, r := range measure(ctx, s, "open", cs, conc, rate, cfg.limits, rounds, cfg.meter) {
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
