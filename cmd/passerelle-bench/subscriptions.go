package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"passerelle/app"
	"passerelle/demo"
	"passerelle/enums"
	"passerelle/graph"
	"passerelle/internal/gctune"
	"passerelle/internal/hostload"
	"passerelle/server"
	"passerelle/store"
	"passerelle/viewer"
	"passerelle/workflow"
)

const dashboardQuery = `subscription DashboardEvents { dashboardEvents { cursor type occurredAt } }`

const requestQuery = `subscription RequestEvents($requestId: ID!) { requestEvents(requestId: $requestId) { cursor type occurredAt } }`

type benchFlags struct {
	subs           int
	perConn        []int
	broadcasts     int
	rate           float64
	targetedFor    time.Duration
	fanout         int
	duration       time.Duration
	cpuprofile     string
	reauth         time.Duration
	keepAlive      time.Duration
	tokens         int
	settle         time.Duration
	sqliteMaxConns int
	verbose        bool
	memprofile     string
	serverLog      string
	gcPercent      int
}

func parseBenchFlags(args []string) (*benchFlags, error) {
	fs := flag.NewFlagSet("subscriptions", flag.ContinueOnError)
	f := &benchFlags{}
	fs.IntVar(&f.subs, "subs", 10000, "subscriptions held at once")
	perConn := fs.String("per-conn", "100,1", "subscriptions per websocket connection; a comma-separated list runs each mode in turn")
	fs.IntVar(&f.broadcasts, "broadcasts", 5, "events fanned out to every subscriber, one after the other")
	fs.Float64Var(&f.rate, "targeted-rate", 20, "targeted events per second")
	fs.DurationVar(&f.targetedFor, "targeted-for", 10*time.Second, "how long targeted events are sent")
	fs.IntVar(&f.fanout, "targeted-fanout", 5, "subscribers reached by each targeted event")
	fs.DurationVar(&f.duration, "duration", 15*time.Minute, "hard cap on the whole run")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write the server's CPU profile during the broadcasts of the first mode to this file (and during its targeted events to this file + \".targeted\")")
	fs.DurationVar(&f.reauth, "reauth", 0, "server.Config.ReauthInterval (0: the server's default, 5s)")
	fs.DurationVar(&f.keepAlive, "keepalive", 0, "server.Config.WSKeepAlive (0: the server's default, 15s)")
	fs.IntVar(&f.tokens, "tokens", 8, "sessions the subscriptions are spread over")
	fs.DurationVar(&f.settle, "settle", 5*time.Second, "idle time before memory is measured")
	fs.IntVar(&f.sqliteMaxConns, "sqlite-max-conns", 0, "cap the SQLite connection pool (0: as the server ships, 4 × CPUs)")
	fs.StringVar(&f.memprofile, "memprofile", "", "write the server's heap profile (and goroutine list, .goroutines.txt) with the subscriptions idle to this file, suffixed with the mode")
	fs.IntVar(&f.gcPercent, "gc-percent", gctune.DefaultPercent, "as passerelle serve --gc-percent, in the server process")
	fs.StringVar(&f.serverLog, "server-log", "", "server log level on stderr: debug, info, warn, error (default: none, or warn with -v)")
	fs.BoolVar(&f.verbose, "v", false, "log progress and server warnings to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for p := range strings.SplitSeq(*perConn, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--per-conn: %q is not a positive number", p)
		}
		f.perConn = append(f.perConn, n)
	}
	if f.subs < 1 || f.fanout < 1 || f.tokens < 1 || f.rate <= 0 {
		return nil, errors.New("--subs, --targeted-fanout, --tokens and --targeted-rate must be positive")
	}
	return f, nil
}

// modeResult is one row of the report.
type modeResult struct {
	perConn, conns, subs   int
	openTime               time.Duration
	heapStackPerSub        float64 // bytes
	rssPerSub              float64 // bytes
	goroutinesPerSub       float64
	broadcast              []time.Duration
	broadcastWant          int
	broadcastRounds        []time.Duration // p99 of each round
	targeted               []time.Duration
	targetedWant           int
	targetedSent           int
	mutationP50            time.Duration
	ended, failures        int
	clientCPU              time.Duration // user+system time of the load clients
	serverCPUBroadcast     time.Duration // this process's CPU time during the broadcasts
	before, idle           memSample
	broadcastNote, tgtNote string
}

func subscriptions(ctx context.Context, args []string) error {
	f, err := parseBenchFlags(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.duration)
	defer cancel()
	logf := func(format string, args ...any) {
		if f.verbose {
			fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
		}
	}
	nofile := raiseFileLimit()
	loadStart := hostload.Average()
	logf("server %s", gctune.Apply(f.gcPercent, 0))

	dir, err := os.MkdirTemp("", "passerelle-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	level := slog.LevelError + 1
	if f.verbose {
		level = slog.LevelWarn
	}
	if f.serverLog != "" {
		if err := level.UnmarshalText([]byte(f.serverLog)); err != nil {
			return fmt.Errorf("--server-log: %w", err)
		}
	}
	maxPer := slices.Max(f.perConn)
	a, err := app.New(ctx, app.Config{
		Store: store.Config{DataDir: dir},
		Server: server.Config{
			ReauthInterval: f.reauth, WSKeepAlive: f.keepAlive,
			MaxConnectionsPerUser:         f.subs + 16,
			MaxSubscriptionsPerConnection: maxPer,
		},
		Demo:   true,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		Limits: graph.Limits{MutationsPerMinute: 1 << 30, MutationBurst: 1 << 30},
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if f.sqliteMaxConns > 0 {
		a.DB.SQL.SetMaxOpenConns(f.sqliteMaxConns)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	url := "ws://" + ln.Addr().String() + "/graphql"

	// Sessions, and the viewers the mutations run as.
	var tokens []string
	for range f.tokens {
		s, err := a.Auth.Login(ctx, "prescripteur@diaconesses.demo", demo.Password, "127.0.0.1")
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		tokens = append(tokens, s.Token)
	}
	presc, err := a.Auth.Authenticate(ctx, tokens[0])
	if err != nil {
		return err
	}
	prescCtx := viewer.NewContext(ctx, presc)
	structure := presc.Habilitations[0].StructureID
	newRequest := func(i int) (uuid.UUID, error) {
		c, err := a.Workflow.Create(prescCtx, workflow.CreateInput{
			OriginStructureID: structure, Urgency: enums.UrgencyPlanned,
			Patient: workflow.PatientInput{BirthName: "Bench" + strconv.Itoa(i), FirstName: "Charge",
				BirthDate: time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), Sex: enums.SexFemale},
		})
		if err != nil {
			return uuid.Nil, err
		}
		return c.Request.ID, nil
	}
	nreq := (f.subs + f.fanout - 1) / f.fanout
	logf("creating %d requests for the targeted phase", nreq)
	requests := make([]uuid.UUID, nreq)
	for i := range requests {
		if requests[i], err = newRequest(i); err != nil {
			return fmt.Errorf("creating request %d: %w", i, err)
		}
	}

	var results []*modeResult
	for mi, per := range f.perConn {
		r := &modeResult{perConn: per, subs: f.subs, conns: (f.subs + per - 1) / per}
		results = append(results, r)
		if r.conns+256 > int(nofile) { // each process holds one end of every connection
			r.broadcastNote = fmt.Sprintf("skipped: %d connections need over %d file descriptors in each process, the limit is %d", r.conns, r.conns+256, nofile)
			continue
		}

		// Idle memory.
		r.before = sampleMemory()
		logf("mode %d/conn: opening %d subscriptions on %d connections", per, f.subs, r.conns)
		vars := make([]map[string]any, f.subs)
		start := time.Now()
		cl, err := startClient(ctx, clientSpec{URL: url, Tokens: tokens, PerConn: per, Query: dashboardQuery, OpName: "DashboardEvents", Vars: vars})
		if err != nil {
			return err
		}
		if err := cl.waitOpened(ctx, a, f.subs); err != nil {
			r.broadcastNote = "could not open every subscription: " + err.Error()
			_ = cl.stop()
			if err := waitBrokerEmpty(ctx, a); err != nil {
				return err
			}
			continue
		}
		r.openTime = time.Since(start)
		logf("opened in %v; idle %v", r.openTime.Round(time.Millisecond), f.settle)
		sleep(ctx, f.settle)
		r.idle = sampleMemory()
		if f.memprofile != "" {
			if err := writeHeapProfile(fmt.Sprintf("%s.%d-per-conn", f.memprofile, per)); err != nil {
				cl.stop()
				return err
			}
		}
		n := float64(f.subs)
		r.heapStackPerSub = float64(int64(r.idle.heapInuse+r.idle.stackInuse)-int64(r.before.heapInuse+r.before.stackInuse)) / n
		r.rssPerSub = float64(int64(r.idle.rss)-int64(r.before.rss)) / n
		r.goroutinesPerSub = float64(r.idle.goroutines-r.before.goroutines) / n

		// Broadcast: one event every subscriber may see.
		var prof *os.File
		if f.cpuprofile != "" && mi == 0 {
			if prof, err = os.Create(f.cpuprofile); err != nil {
				cl.stop()
				return err
			}
			if err := pprof.StartCPUProfile(prof); err != nil {
				cl.stop()
				return err
			}
		}
		cpu0 := processCPU()
		for i := range f.broadcasts {
			if _, err := newRequest(nreq + mi*f.broadcasts + i); err != nil {
				cl.stop()
				return err
			}
			got, err := cl.collect(ctx, f.subs, 2*time.Minute)
			r.broadcast = append(r.broadcast, got...)
			r.broadcastWant += f.subs
			r.broadcastRounds = append(r.broadcastRounds, percentile(got, 0.99))
			logf("broadcast %d: %d/%d delivered, p50 %v p99 %v max %v", i+1, len(got), f.subs,
				percentile(got, 0.5), percentile(got, 0.99), percentile(got, 1))
			if err != nil {
				r.broadcastNote = err.Error()
				break
			}
			sleep(ctx, time.Second)
		}
		r.serverCPUBroadcast = processCPU() - cpu0 // includes the one-second pauses' background work
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
			prof = nil
		}
		if err := cl.stop(); err != nil {
			return err
		}
		r.ended, r.failures, r.clientCPU = cl.ended, cl.failures, cl.cpu
		if err := waitBrokerEmpty(ctx, a); err != nil {
			return err
		}

		// Targeted: each event reaches f.fanout subscribers (requestEvents of
		// one request, spread over different connections).
		for i := range vars {
			vars[i] = map[string]any{"requestId": requests[i%nreq].String()}
		}
		logf("targeted: %d requestEvents subscriptions, %d per request", f.subs, f.fanout)
		cl, err = startClient(ctx, clientSpec{URL: url, Tokens: tokens, PerConn: per, Query: requestQuery, OpName: "RequestEvents", Vars: vars})
		if err != nil {
			return err
		}
		if err := cl.waitOpened(ctx, a, f.subs); err != nil {
			r.tgtNote = "could not open every subscription: " + err.Error()
			_ = cl.stop()
			if err := waitBrokerEmpty(ctx, a); err != nil {
				return err
			}
			continue
		}
		sleep(ctx, f.settle)
		perReq := make([]int, nreq)
		for i := range f.subs {
			perReq[i%nreq]++
		}
		if f.cpuprofile != "" && mi == 0 {
			if prof, err = os.Create(f.cpuprofile + ".targeted"); err != nil {
				cl.stop()
				return err
			}
			if err := pprof.StartCPUProfile(prof); err != nil {
				cl.stop()
				return err
			}
		}
		tick := time.NewTicker(time.Duration(float64(time.Second) / f.rate))
		stopAt := time.Now().Add(f.targetedFor)
		var mutations []time.Duration
		for k := 0; time.Now().Before(stopAt) && ctx.Err() == nil; k++ {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
			req := k % nreq
			t0 := time.Now()
			if _, err := a.Workflow.SaveSection(prescCtx, requests[req], enums.SectionKindCareProject,
				workflow.Patch{"dependence": "passage " + strconv.Itoa(k)}, nil); err != nil {
				tick.Stop()
				cl.stop()
				return fmt.Errorf("targeted event %d: %w", k, err)
			}
			mutations = append(mutations, time.Since(t0))
			r.targetedSent++
			r.targetedWant += perReq[req]
			r.targeted = append(r.targeted, cl.drain()...)
		}
		tick.Stop()
		got, err := cl.collect(ctx, r.targetedWant-len(r.targeted), 30*time.Second)
		r.targeted = append(r.targeted, got...)
		if err != nil {
			r.tgtNote = err.Error()
		}
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
			prof = nil
		}
		r.mutationP50 = percentile(mutations, 0.5)
		logf("targeted: %d events, %d/%d delivered, p50 %v p99 %v", r.targetedSent, len(r.targeted), r.targetedWant,
			percentile(r.targeted, 0.5), percentile(r.targeted, 0.99))
		if err := cl.stop(); err != nil {
			return err
		}
		r.ended += cl.ended
		r.failures += cl.failures
		r.clientCPU += cl.cpu
		if err := waitBrokerEmpty(ctx, a); err != nil {
			return err
		}
	}
	report(os.Stdout, f, nofile, results)
	fmt.Printf("Load average (1, 5, 15 min) at start: %s; at the end: %s (other processes on the machine count: the figures are only as quiet as it was).\n", loadStart, hostload.Average())
	return nil
}

func writeHeapProfile(path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := pprof.Lookup("heap").WriteTo(out, 0); err != nil {
		return err
	}
	g, err := os.Create(path + ".goroutines.txt")
	if err != nil {
		return err
	}
	defer g.Close()
	return pprof.Lookup("goroutine").WriteTo(g, 1)
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadClient is the child process holding the subscriptions.
type loadClient struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	opened    chan string
	delivered chan time.Duration
	done      chan struct{}
	ended     int // subscriptions the server ended (error/complete)
	failures  int // connection errors
	errs      chan string
	lost      atomic.Int64 // error lines that did not fit in errs
	cpu       time.Duration
}

func startClient(ctx context.Context, spec clientSpec) (*loadClient, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, clientCommand)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// Small channels: they live in the measured process.
	c := &loadClient{cmd: cmd, stdin: stdin, opened: make(chan string, 1), delivered: make(chan time.Duration, 4096),
		done: make(chan struct{}), errs: make(chan string, 1024)}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "D "):
				fields := strings.Fields(line)
				ns, _ := strconv.ParseInt(fields[len(fields)-1], 10, 64)
				c.delivered <- time.Duration(ns)
			case strings.HasPrefix(line, "OPENED"), strings.HasPrefix(line, "X "):
				select {
				case c.opened <- line:
				default:
					select {
					case c.errs <- line:
					default:
						c.lost.Add(1)
					}
				}
			case strings.HasPrefix(line, "E "):
				select {
				case c.errs <- line:
				default:
					c.lost.Add(1)
				}
			}
		}
	}()
	if err := json.NewEncoder(stdin).Encode(spec); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// waitOpened waits until the client sent every subscription and the server
// registered them all.
func (c *loadClient) waitOpened(ctx context.Context, a *app.App, n int) error {
	select {
	case line := <-c.opened:
		if !strings.HasPrefix(line, "OPENED") {
			return fmt.Errorf("load client: %s", line)
		}
	case <-c.done:
		return errors.New("load client exited")
	case <-ctx.Done():
		return ctx.Err()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for a.Broker.Count() < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d subscriptions registered", a.Broker.Count(), n)
		}
		c.countErrors()
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (c *loadClient) countErrors() {
	for {
		select {
		case l := <-c.errs:
			if strings.HasPrefix(l, "X ") {
				c.failures++
			} else {
				c.ended++
			}
			if c.failures+c.ended <= 3 {
				fmt.Fprintln(os.Stderr, "load client:", truncate(l, 300))
			}
		default:
			return
		}
	}
}

// collect waits for n deliveries, at most timeout.
func (c *loadClient) collect(ctx context.Context, n int, timeout time.Duration) ([]time.Duration, error) {
	out := make([]time.Duration, 0, max(n, 0))
	t := time.NewTimer(timeout)
	defer t.Stop()
	for len(out) < n {
		select {
		case d := <-c.delivered:
			out = append(out, d)
		case <-t.C:
			c.countErrors()
			return out, fmt.Errorf("%d of %d deliveries missing after %v (%d subscriptions ended by the server)", n-len(out), n, timeout, c.ended)
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	c.countErrors()
	return out, nil
}

// drain returns the deliveries received so far.
func (c *loadClient) drain() []time.Duration {
	var out []time.Duration
	for {
		select {
		case d := <-c.delivered:
			out = append(out, d)
		default:
			return out
		}
	}
}

// stop closes the client's stdin (it closes its connections) and waits.
func (c *loadClient) stop() error {
	c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
	}
	err := c.cmd.Wait()
	c.countErrors()
	c.ended += int(c.lost.Swap(0))
	if ps := c.cmd.ProcessState; ps != nil {
		c.cpu = ps.UserTime() + ps.SystemTime()
	}
	return err
}

func waitBrokerEmpty(ctx context.Context, a *app.App) error {
	deadline := time.Now().Add(time.Minute)
	for a.Broker.Count() > 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d subscriptions still registered after their client left", a.Broker.Count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// memSample is the server process's memory.
type memSample struct {
	heapInuse, stackInuse, rss uint64
	goroutines                 int
}

func sampleMemory() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heapInuse: ms.HeapInuse, stackInuse: ms.StackInuse, rss: readRSS(), goroutines: runtime.NumGoroutine()}
}

// readRSS reads VmRSS from /proc/self/status (0 elsewhere).
func readRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// raiseFileLimit raises the soft limit on open files to the hard one.
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	return l.Cur
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func kb(b float64) string { return fmt.Sprintf("%.1f KB", b/1024) }

// report prints the results as markdown.
func report(w io.Writer, f *benchFlags, nofile uint64, results []*modeResult) {
	var mem uint64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				mem, _ = strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			}
		}
	}
	fmt.Fprintf(w, "\n%d subscriptions; %d CPUs (GOMAXPROCS %d), %.1f GiB RAM, %s %s/%s; open files limit %d\n\n",
		f.subs, runtime.NumCPU(), runtime.GOMAXPROCS(0), float64(mem)/(1<<20), runtime.Version(), runtime.GOOS, runtime.GOARCH, nofile)
	fmt.Fprintln(w, "| subscriptions per connection | connections | opened in | heap+stacks per idle subscription | RSS per idle subscription | goroutines per subscription | broadcast p50 | broadcast p99 | broadcast max | broadcast delivered | targeted p50 | targeted p99 | targeted max | targeted delivered |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		if r.broadcastWant == 0 && r.broadcastNote != "" {
			fmt.Fprintf(w, "| %d | %d | %s | | | | | | | | | | | |\n", r.perConn, r.conns, truncate(r.broadcastNote, 200))
			continue
		}
		fmt.Fprintf(w, "| %d | %d | %.1f s | %s | %s | %.2f | %s | %s | %s | %d/%d | %s | %s | %s | %d/%d (%d events at %.0f/s) |\n",
			r.perConn, r.conns, r.openTime.Seconds(), kb(r.heapStackPerSub), kb(r.rssPerSub), r.goroutinesPerSub,
			ms(percentile(r.broadcast, 0.5)), ms(percentile(r.broadcast, 0.99)), ms(percentile(r.broadcast, 1)),
			len(r.broadcast), r.broadcastWant,
			ms(percentile(r.targeted, 0.5)), ms(percentile(r.targeted, 0.99)), ms(percentile(r.targeted, 1)),
			len(r.targeted), r.targetedWant, r.targetedSent, f.rate)
	}
	fmt.Fprintln(w)
	for _, r := range results {
		if r.idle.rss == 0 {
			continue // not measured
		}
		var rounds []string
		for _, d := range r.broadcastRounds {
			rounds = append(rounds, ms(d))
		}
		fmt.Fprintf(w, "- %d per connection: server heap %.0f→%.0f MiB, stacks %.0f→%.0f MiB, RSS %.0f→%.0f MiB, goroutines %d→%d; broadcast p99 per round: %s; server CPU during the broadcasts %.1f s; targeted mutation p50 %s; load client CPU (whole mode) %.1f s; subscriptions ended by the server %d, connection errors %d",
			r.perConn, mib(r.before.heapInuse), mib(r.idle.heapInuse), mib(r.before.stackInuse), mib(r.idle.stackInuse),
			mib(r.before.rss), mib(r.idle.rss), r.before.goroutines, r.idle.goroutines, strings.Join(rounds, ", "), r.serverCPUBroadcast.Seconds(), ms(r.mutationP50), r.clientCPU.Seconds(), r.ended, r.failures)
		if r.broadcastNote != "" {
			fmt.Fprintf(w, "; broadcast: %s", r.broadcastNote)
		}
		if r.tgtNote != "" {
			fmt.Fprintf(w, "; targeted: %s", r.tgtNote)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\nLatency: from the event's occurredAt (taken in the writing transaction, just before its commit) to its arrival in the client process; client and server share the machine.")
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
