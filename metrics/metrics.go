// Package metrics holds the server's operational measurements, exposed in
// the Prometheus text format on a listener of their own (serve
// --metrics-addr), never on the API's: how long each root field takes, which
// error codes are answered, how many websockets and live subscriptions are
// open, the database pool, the Go runtime and the process.
//
// No label carries anything a client chooses (operation names, variables,
// ids): the root fields come from the schema and the error codes from
// apperr, so the number of series is bounded whatever clients send.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"regexp"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"passerelle/store"
)

// Metrics is one server's registry and instruments. A nil *Metrics records
// nothing: tests and tools that do not expose metrics pass none.
type Metrics struct {
	reg        *prometheus.Registry
	rootFields *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	websockets prometheus.Gauge
}

// New registers the instruments, the Go runtime and process collectors, the
// pool statistics of db, and subscriptions (the number of live
// subscriptions, read when scraped).
func New(db *sql.DB, subscriptions func() int) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		rootFields: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "passerelle_graphql_root_field_duration_seconds",
			Help: "Time to resolve one root field of a GraphQL operation (with everything below it), by operation type and field.",
			// 1 ms … 10 s: a dashboard page is a few milliseconds, statistics up to a second.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"type", "field"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "passerelle_graphql_errors_total",
			Help: "Errors answered in GraphQL responses (each live event's too), by extensions.code.",
		}, []string{"code"}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "passerelle_websocket_connections",
			Help: "Open websocket connections that passed connection_init.",
		}),
	}
	m.reg.MustRegister(m.rootFields, m.errors, m.websockets,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, "passerelle"))
	}
	if subscriptions != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "passerelle_live_subscriptions",
			Help: "Live subscriptions registered with the event broker of this instance.",
		}, func() float64 { return float64(subscriptions()) }))
	}
	return m
}

// Checkpoints registers the background checkpoints of the SQLite database,
// read from stats when scraped: a WAL that keeps growing, or pages left
// behind run after run, mean that readers hold old snapshots or that the
// checkpoints cannot keep up with the writes.
func (m *Metrics) Checkpoints(stats func() store.CheckpointStats) {
	if m == nil {
		return
	}
	f := readFrom(stats)
	m.reg.MustRegister(
		f.counter("passerelle_sqlite_checkpoints_total", "Background checkpoints of the SQLite write-ahead log.",
			func(s store.CheckpointStats) float64 { return float64(s.Runs) }),
		f.counter("passerelle_sqlite_checkpoint_failures_total", "Background checkpoints that failed (logged).",
			func(s store.CheckpointStats) float64 { return float64(s.Failures) }),
		f.counter("passerelle_sqlite_checkpoint_seconds_total", "Time spent in background checkpoints.",
			func(s store.CheckpointStats) float64 { return s.Time.Seconds() }),
		f.gauge("passerelle_sqlite_wal_pages", "Pages in the write-ahead log at the last background checkpoint.",
			func(s store.CheckpointStats) float64 { return float64(s.WALPages) }),
		f.gauge("passerelle_sqlite_wal_pages_behind", "Pages the last background checkpoint could not copy back (a reader still needed them).",
			func(s store.CheckpointStats) float64 { return float64(s.Behind) }),
	)
}

// WriteGate registers the turns at SQLite's single writer, read from stats
// when scraped. rate(passerelle_sqlite_write_held_seconds_total) is the
// share of the time someone writes: near 1, writes queue behind one
// another (passerelle_sqlite_write_waiting, rate of
// passerelle_sqlite_write_wait_seconds_total) and the database bounds the
// changes a second, whatever the CPUs.
func (m *Metrics) WriteGate(stats func() store.WriteGateStats) {
	if m == nil {
		return
	}
	f := readFrom(stats)
	m.reg.MustRegister(
		f.counter("passerelle_sqlite_write_turns_total", "Turns at SQLite's single writer (transactions, and writing statements outside one).",
			func(s store.WriteGateStats) float64 { return float64(s.Turns) }),
		f.counter("passerelle_sqlite_write_held_seconds_total", "Time the single writer's turn was held.",
			func(s store.WriteGateStats) float64 { return s.Held.Seconds() }),
		f.counter("passerelle_sqlite_write_waits_total", "Turns that waited for another writer.",
			func(s store.WriteGateStats) float64 { return float64(s.Waits) }),
		f.counter("passerelle_sqlite_write_wait_seconds_total", "Time writers spent waiting for their turn, all together.",
			func(s store.WriteGateStats) float64 { return s.Waited.Seconds() }),
		f.counter("passerelle_sqlite_write_wait_timeouts_total", "Writers that gave up waiting for their turn (answered as an internal error).",
			func(s store.WriteGateStats) float64 { return float64(s.Timeouts) }),
		f.gauge("passerelle_sqlite_write_waiting", "Writers waiting for their turn now.",
			func(s store.WriteGateStats) float64 { return float64(s.Waiting) }),
	)
}

// readFrom makes counters and gauges of the figures of one statistics
// reading, taken when scraped.
func readFrom[S any](stats func() S) reader[S] { return reader[S]{stats} }

type reader[S any] struct{ stats func() S }

func (r reader[S]) counter(name, help string, v func(S) float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(r.stats()) })
}

func (r reader[S]) gauge(name, help string, v func(S) float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(r.stats()) })
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// RootField is gqlgen root-field middleware that times each root field.
func (m *Metrics) RootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	if m == nil {
		return next(ctx)
	}
	start := time.Now()
	out := next(ctx)
	typ := "query"
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Operation != nil {
		typ = string(oc.Operation.Operation)
	}
	field := "unknown"
	if fc := graphql.GetRootFieldContext(ctx); fc != nil && fc.Object != "" {
		field = fc.Field.Name
	}
	m.rootFields.WithLabelValues(typ, field).Observe(time.Since(start).Seconds())
	return out
}

// errorCode is what an error code label may hold; anything else is counted
// as OTHER.
var errorCode = regexp.MustCompile(`^[A-Z][A-Z_]{0,39}$`)

// Responses is gqlgen response middleware that counts the errors of every
// response by code.
func (m *Metrics) Responses(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if m == nil || resp == nil {
		return resp
	}
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		if !errorCode.MatchString(code) {
			code = "OTHER"
		}
		m.errors.WithLabelValues(code).Inc()
	}
	return resp
}

// WebsocketOpened and WebsocketClosed follow the open connections.
func (m *Metrics) WebsocketOpened() {
	if m != nil {
		m.websockets.Inc()
	}
}

func (m *Metrics) WebsocketClosed() {
	if m != nil {
		m.websockets.Dec()
	}
}
