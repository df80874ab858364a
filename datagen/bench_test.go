package datagen

import (
	"testing"
	"time"

	"passerelle/enums"
)

// BenchmarkSimulate is the generator's CPU cost per request (plan, replay,
// rows and events), without the database.
func BenchmarkSimulate(b *testing.B) {
	cfg := Config{Seed: 1, Requests: 100_000, Geography: "france", USPUnits: 60, RequestingStructures: 40}
	if err := cfg.defaults(); err != nil {
		b.Fatal(err)
	}
	g := &generator{cfg: cfg, byStatus: map[enums.RequestStatus]int{}, byDispatchStatus: map[enums.DispatchStatus]int{}}
	g.end = end
	g.start = end.Add(-days * 24 * time.Hour)
	g.offs = timeline(cfg.Seed, cfg.Requests, g.start.Weekday())
	g.times = make([]time.Time, len(g.offs))
	g.refs = make([]string, len(g.offs))
	for i, o := range g.offs {
		g.times[i] = g.start.Add(time.Duration(o) * time.Second)
		g.refs[i] = "USP-2026-000001"
	}
	var err error
	if g.dir, err = buildDirectory(cfg, existing{}, g.start, g.end); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i, rows := 0, 0
	for b.Loop() {
		var bt batch
		g.simulate(i%cfg.Requests, &bt)
		rows += bt.rows()
		i++
	}
	b.ReportMetric(float64(rows)/float64(i), "rows/request")
}
