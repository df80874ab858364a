// Package datagen writes a deterministic, realistic data set for load tests
// and demonstrations: the demo directory plus generated structures, USP
// units, people and a year of admission requests, each with its patient,
// its three sections, its dispatches, their messages and every event the
// workflow would have recorded.
//
// Rows are written directly with ent bulk inserts, as the system, in one
// transaction per batch of requests: going through the workflow service
// would cost one transaction per step (about 25 per request).
//
// # Determinism and restarts
//
// Everything derives from Config.Seed: the arrival times of the requests
// (one sorted timeline), and for request i a private random source seeded
// with (Seed, i) that draws its ids first, then its whole life. Directory
// rows get uuid-v5 ids from the seed and a natural key (FINESS number,
// e-mail). So a request's ids do not depend on batching nor on what else is
// in the database.
//
// A run that stops (crash, Ctrl-C) leaves whole batches: the next run with
// the same configuration asks, for each batch, which of its request ids are
// already present and generates only the missing requests (a request and
// all its rows share a transaction). The simulated period is recovered from
// the rows already written, so a restart on a later day continues the same
// year instead of shifting it. No marker table is needed.
//
// # Invariants kept
//
// Every request's history is planned whole and replayed up to the end of
// the period, applying the same transitions as the workflow service: at most
// one dispatch confirmed per request, request status consistent with its
// dispatches, sections complete and validated before sending, one event per
// change (with the same from/to/reason conventions), references
// USP-YYYY-NNNNNN unique and numbered in creation order within their year,
// and the reference counters raised to the last number used.
package datagen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"passerelle/demo"
	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/enums"
	"passerelle/viewer"
)

// Config describes the data set. Zero fields take the preset's values.
type Config struct {
	// Preset is "idf" (the demo's 26 USP units, ~40 requesting structures,
	// 60 000 requests) or "france" (~3 000 units, 1 000 000 requests), or
	// "tiny" (tests).
	Preset string
	// Seed makes the data set; the same seed and sizes give the same rows.
	Seed uint64
	// Requests is the number of requests over the year.
	Requests int
	// End is the end of the simulated year (exclusive). Default: today,
	// 00:00 UTC; a restart keeps the end of the first run.
	End time.Time
	// BatchSize is the number of requests per transaction (default 1000).
	BatchSize int
	// Writers is the number of concurrent writing transactions (default 1;
	// SQLite has a single writer anyway).
	Writers int
	// RequestingStructures is the number of generated requesting structures
	// (besides the demo's four).
	RequestingStructures int
	// USPUnits is the number of USP units wanted in all (demo ones
	// included); 0 keeps the demo's 26 only.
	USPUnits int
	// Departments restricts the geography: "idf" or "france".
	Geography string

	// Rows, when set, counts the rows written (for rates).
	Rows *atomic.Int64
	// Report, when set, receives a summary of what was generated.
	Report *Report
	// Now is the clock used for the default end (default time.Now).
	Now func() time.Time
}

// Report summarises a run.
type Report struct {
	Start, End           time.Time
	Structures, Units    int // generated ones
	USPUnits             int // all receiving units, demo included
	Users, Habilitations int // generated ones
	Requests, Skipped    int
	Rows                 int64
	ByStatus             map[enums.RequestStatus]int
	ByDispatchStatus     map[enums.DispatchStatus]int
	Events               int
	Duration             time.Duration
}

// Presets returns the named configuration.
func Presets(name string) (Config, error) {
	switch name {
	case "idf":
		return Config{Preset: name, Requests: 60_000, RequestingStructures: 36, Geography: "idf"}, nil
	case "france":
		return Config{Preset: name, Requests: 1_000_000, RequestingStructures: 1_100, USPUnits: 600, Geography: "france"}, nil
	case "tiny":
		return Config{Preset: name, Requests: 400, RequestingStructures: 6, Geography: "idf", BatchSize: 150}, nil
	}
	return Config{}, fmt.Errorf("datagen: unknown preset %q (idf, france, tiny)", name)
}

func (c *Config) defaults() error {
	if c.Preset != "" {
		p, err := Presets(c.Preset)
		if err != nil {
			return err
		}
		if c.Requests == 0 {
			c.Requests = p.Requests
		}
		if c.RequestingStructures == 0 {
			c.RequestingStructures = p.RequestingStructures
		}
		if c.USPUnits == 0 {
			c.USPUnits = p.USPUnits
		}
		if c.Geography == "" {
			c.Geography = p.Geography
		}
		if c.BatchSize == 0 {
			c.BatchSize = p.BatchSize
		}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Writers <= 0 {
		c.Writers = 1
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Requests <= 0 {
		return errors.New("datagen: no requests to generate")
	}
	return nil
}

func (c *Config) departments() []department {
	if c.Geography == "france" {
		return append(slices.Clone(idfDepartments), otherDepartments...)
	}
	return idfDepartments
}

// days is the simulated period: 52 whole weeks.
const days = 364

var (
	weekdayWeights = [7]float64{0.25, 1.1, 1.05, 1.0, 1.0, 1.0, 0.35} // Sunday first
	hourWeights    = [24]float64{0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.8, 1.4, 1.8, 1.9, 1.8,
		1.3, 1.3, 1.7, 1.8, 1.7, 1.4, 1.0, 0.7, 0.5, 0.4, 0.3, 0.2}
)

// timeline returns the sorted arrival offsets (seconds from the start of
// the period) of n requests: fewer at night and at weekends.
func timeline(seed uint64, n int, startWeekday time.Weekday) []int64 {
	r := rand.New(rand.NewPCG(seed, 0x7157))
	dayCum := make([]float64, days)
	acc := 0.0
	for d := range dayCum {
		acc += weekdayWeights[(int(startWeekday)+d)%7]
		dayCum[d] = acc
	}
	var hourCum [24]float64
	hacc := 0.0
	for h, w := range hourWeights {
		hacc += w
		hourCum[h] = hacc
	}
	out := make([]int64, n)
	for i := range out {
		d := sort.SearchFloat64s(dayCum, r.Float64()*acc)
		h := sort.SearchFloat64s(hourCum[:], r.Float64()*hacc)
		out[i] = int64(min(d, days-1))*86400 + int64(min(h, 23))*3600 + r.Int64N(3600)
	}
	slices.Sort(out)
	return out
}

// generator is one run.
type generator struct {
	cfg   Config
	dir   *directory
	end   time.Time
	start time.Time
	offs  []int64
	times []time.Time
	refs  []string

	mu               sync.Mutex
	byStatus         map[enums.RequestStatus]int
	byDispatchStatus map[enums.DispatchStatus]int
	events           int
}

func (g *generator) tally(req *ent.AdmissionRequest, ds []*ent.Dispatch) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byStatus[req.Status]++
	for _, d := range ds {
		if d != nil {
			g.byDispatchStatus[d.Status]++
		}
	}
}

// Generate writes the data set into the database behind client (migrated).
// It loads the demo data set first when the database is empty, so demo
// structures and units hold generated traffic. progress, when set, is
// called after each batch with the requests done (written or found
// already there) and the total.
func Generate(ctx context.Context, client *ent.Client, cfg Config, progress func(done, total int)) error {
	began := time.Now()
	if err := cfg.defaults(); err != nil {
		return err
	}
	ctx = viewer.AllowWrites(viewer.System(ctx))

	ex, generated, err := loadExisting(ctx, client, cfg.Seed)
	if err != nil {
		return err
	}
	if generated == 0 {
		if _, err := demo.Load(ctx, client, cfg.Now().UTC()); err != nil {
			if errors.Is(err, demo.ErrRealData) {
				return fmt.Errorf("datagen: %w; generate into an empty database (or one generated with the same seed)", err)
			}
			return err
		}
		if ex, _, err = loadExisting(ctx, client, cfg.Seed); err != nil {
			return err
		}
	}

	g := &generator{cfg: cfg, byStatus: map[enums.RequestStatus]int{}, byDispatchStatus: map[enums.DispatchStatus]int{}}
	if err := g.period(ctx, client); err != nil {
		return err
	}
	g.dir, err = buildDirectory(cfg, ex, g.start, g.end)
	if err != nil {
		return err
	}
	if generated == 0 {
		if err := g.writeDirectory(ctx, client); err != nil {
			return err
		}
	} else if generated != len(g.dir.structures) {
		return fmt.Errorf("datagen: the database holds %d generated structures, this configuration makes %d: use the same preset, seed and sizes to resume", generated, len(g.dir.structures))
	}

	skipped, err := g.requests(ctx, client, progress)
	if err != nil {
		return err
	}
	if err := g.raiseCounters(ctx, client); err != nil {
		return err
	}
	if cfg.Report != nil {
		*cfg.Report = Report{Start: g.start, End: g.end, Structures: len(g.dir.structures), Units: len(g.dir.units),
			USPUnits: len(g.dir.usp), Users: len(g.dir.users), Habilitations: len(g.dir.habilitations),
			Requests: cfg.Requests, Skipped: skipped, ByStatus: g.byStatus, ByDispatchStatus: g.byDispatchStatus,
			Events: g.events, Duration: time.Since(began)}
		if cfg.Rows != nil {
			cfg.Report.Rows = cfg.Rows.Load()
		}
	}
	return nil
}

// period fixes the simulated year: the configured end, the end of a
// previous run (recovered from a request it wrote), or today.
func (g *generator) period(ctx context.Context, client *ent.Client) error {
	cfg := g.cfg
	end := cfg.End
	if end.IsZero() {
		recovered, ok, err := recoverEnd(ctx, client, cfg)
		if err != nil {
			return err
		}
		if ok {
			end = recovered
		} else {
			end = date(cfg.Now().UTC())
		}
	}
	g.end = end.UTC().Truncate(time.Second)
	g.start = g.end.Add(-days * 24 * time.Hour)
	g.offs = timeline(cfg.Seed, cfg.Requests, g.start.Weekday())
	g.times = make([]time.Time, len(g.offs))
	g.refs = make([]string, len(g.offs))
	year, rank := 0, 0
	for i, o := range g.offs {
		t := g.start.Add(time.Duration(o) * time.Second)
		g.times[i] = t
		if t.Year() != year {
			year, rank = t.Year(), 0
		}
		rank++
		g.refs[i] = fmt.Sprintf("USP-%d-%06d", year, rank)
	}
	return nil
}

// recoverEnd finds the end of the period a previous run used, from the
// creation time of one of its requests: the arrival offsets depend only on
// the seed, the count and the weekday of the start.
func recoverEnd(ctx context.Context, client *ent.Client, cfg Config) (time.Time, bool, error) {
	var probe []uuid.UUID
	index := map[uuid.UUID]int{}
	for i := 0; i < cfg.Requests; i += cfg.BatchSize {
		id := requestID(cfg.Seed, i)
		probe = append(probe, id)
		index[id] = i
	}
	found, err := client.AdmissionRequest.Query().Where(admissionrequest.IDIn(probe...)).
		Select(admissionrequest.FieldID, admissionrequest.FieldCreatedAt).All(ctx)
	if err != nil || len(found) == 0 {
		return time.Time{}, false, err
	}
	sort.Slice(found, func(a, b int) bool { return index[found[a].ID] < index[found[b].ID] })
	i, created := index[found[0].ID], found[0].CreatedAt.UTC().Unix()
	for w := time.Sunday; w <= time.Saturday; w++ {
		start := created - timeline(cfg.Seed, cfg.Requests, w)[i]
		if start%86400 == 0 && time.Unix(start, 0).UTC().Weekday() == w {
			return time.Unix(start, 0).UTC().Add(days * 24 * time.Hour), true, nil
		}
	}
	return time.Time{}, false, errors.New("datagen: the database holds requests of another configuration (seed or request count differ)")
}

// requests generates and writes the batches: one goroutine simulates ahead
// while the writers insert.
func (g *generator) requests(ctx context.Context, client *ent.Client, progress func(done, total int)) (int, error) {
	cfg := g.cfg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *batch, 2*cfg.Writers)
	var skipped atomic.Int64
	var done atomic.Int64
	var progressMu sync.Mutex
	report := func(n int) {
		d := done.Add(int64(n))
		if progress != nil {
			progressMu.Lock()
			progress(int(d), cfg.Requests)
			progressMu.Unlock()
		}
	}
	errc := make(chan error, 1+cfg.Writers)
	go func() {
		defer close(batches)
		for first := 0; first < cfg.Requests; first += cfg.BatchSize {
			n := min(cfg.BatchSize, cfg.Requests-first)
			ids := make([]uuid.UUID, n)
			for k := range ids {
				ids[k] = requestID(cfg.Seed, first+k)
			}
			present, err := client.AdmissionRequest.Query().Where(admissionrequest.IDIn(ids...)).IDs(ctx)
			if err != nil {
				errc <- err
				return
			}
			have := map[uuid.UUID]bool{}
			for _, id := range present {
				have[id] = true
			}
			b := &batch{first: first, count: n}
			for k := range n {
				if have[ids[k]] {
					continue
				}
				g.simulate(first+k, b)
			}
			skipped.Add(int64(len(present)))
			if len(b.requests) == 0 {
				report(n)
				continue
			}
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := g.writeBatch(ctx, client, b); err != nil {
					errc <- fmt.Errorf("datagen: batch of requests %d-%d: %w", b.first, b.first+b.count-1, err)
					cancel()
					return
				}
				g.mu.Lock()
				g.events += len(b.events)
				g.mu.Unlock()
				if cfg.Rows != nil {
					cfg.Rows.Add(int64(b.rows()))
				}
				report(b.count)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return int(skipped.Load()), err
	default:
	}
	if err := ctx.Err(); err != nil {
		return int(skipped.Load()), err
	}
	return int(skipped.Load()), nil
}
