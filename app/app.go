// Package app wires the program together: database, services, GraphQL
// schema and HTTP handler. The command line and the end-to-end tests build
// the server through it, so tests exercise exactly what runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"entgo.io/ent/dialect"
	"github.com/99designs/gqlgen/graphql/handler"

	"passerelle/auth"
	"passerelle/demo"
	"passerelle/directory"
	"passerelle/events"
	"passerelle/graph"
	"passerelle/metrics"
	"passerelle/notify"
	"passerelle/server"
	"passerelle/server/reqctx"
	"passerelle/stats"
	"passerelle/store"
	"passerelle/workflow"
)

// Config is the whole configuration of a server.
type Config struct {
	Store  store.Config
	Server server.Config
	Auth   auth.Config
	// MaxHabilitationDuration caps a grant's validity (default one year).
	MaxHabilitationDuration time.Duration
	// Demo loads the demo data set into an empty database and lets demo
	// accounts sign in.
	Demo bool
	// Migrate applies pending migrations at start. Without it, New refuses a
	// database whose schema is behind (an empty database is initialized).
	Migrate bool
	Logger  *slog.Logger
	// Limits bound depth, complexity and page sizes of operations.
	Limits graph.Limits
	// Banner receives the demo notice (stdout in the command).
	Banner io.Writer
	// Listener tunes the PostgreSQL event listener (reconnection backoff).
	Listener events.ListenerConfig
	// Metrics turns on the operational measurements (App.Metrics), to be
	// served on a listener of their own.
	Metrics bool
	// ResolversOnly turns off the direct reads (graph.DirectReads): every
	// field is then resolved by gqlgen's resolvers. For comparison and
	// diagnosis; the answers are the same.
	ResolversOnly bool
	// Workflow configures the workflow service (the tests check what its
	// operations answer: workflow.Config.CheckResults).
	Workflow workflow.Config
	// Archive schedules the archiving of admitted and cancelled requests
	// (serve: after 30 days, checked hourly). The zero value archives
	// nothing: tests and measurements keep their data as they made it.
	Archive workflow.ArchiveConfig
	// Notify sends the e-mail notifications; without a Sender (the zero
	// value) none is prepared nor sent.
	Notify notify.Config
	// Statistics says how long computed statistics are reused (serve: 30 s
	// fresh, 5 min stale); the zero value computes every request.
	Statistics stats.CacheConfig
}

// App is a running configuration.
type App struct {
	DB        *store.DB
	Auth      *auth.Service
	Workflow  *workflow.Service
	Directory *directory.Service
	Broker    *events.Broker
	// Relay delivers committed events to Broker in id order, once each.
	Relay *events.Relay
	// Listener receives other instances' events (PostgreSQL only, else nil).
	Listener *events.Listener
	Handler  http.Handler
	// Metrics are the measurements of this instance (nil unless
	// Config.Metrics); Metrics.Handler serves them.
	Metrics *metrics.Metrics
	// Notifier prepares and sends the e-mail notifications (idle without
	// Config.Notify.Sender).
	Notifier *notify.Notifier
}

// New opens the database and builds the handler.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Store.Logger == nil {
		cfg.Store.Logger = cfg.Logger
	}
	db, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	if err := prepareSchema(ctx, db, cfg.Migrate || cfg.Demo, cfg.Logger); err != nil {
		db.Close()
		return nil, err
	}
	cfg.Auth.DemoMode = cfg.Demo
	a := &App{DB: db, Broker: events.NewBroker(1024)}
	a.Relay = events.NewRelay(a.Broker, events.EntSource{Client: db.Client}, events.RelayConfig{
		Postgres: db.Dialect == dialect.Postgres, Logger: cfg.Logger,
	})
	if err := a.Relay.Start(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("reading the events of %s: %w", db.Where, err)
	}
	if db.Dialect == dialect.Postgres {
		// Other instances' events arrive through LISTEN/NOTIFY.
		lcfg := cfg.Listener
		if lcfg.Logger == nil {
			lcfg.Logger = cfg.Logger
		}
		a.Listener = events.NewListener(cfg.Store.DatabaseURL, a.Relay, lcfg)
		a.Listener.Start()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := a.Listener.WaitReady(wctx); err != nil {
			cfg.Logger.Warn("event listener not ready yet; /readyz reports it", "error", err)
		}
		cancel()
	}
	a.Auth = auth.NewService(db.Client, cfg.Auth)
	a.Workflow = workflow.NewService(db.Client, a.Relay, cfg.Workflow)
	if cfg.Archive.Logger == nil {
		cfg.Archive.Logger = cfg.Logger
	}
	a.Workflow.StartArchiving(cfg.Archive)
	if cfg.Notify.Logger == nil {
		cfg.Notify.Logger = cfg.Logger
	}
	cfg.Notify.Events = a.Broker
	a.Notifier = notify.New(db.Client, cfg.Notify)
	a.Notifier.Start()
	a.Directory = directory.NewService(db.Client, a.Auth, directory.Config{MaxHabilitationDuration: cfg.MaxHabilitationDuration})
	if cfg.Demo {
		var created bool
		err := db.Exclusively(ctx, store.DemoLoadLock, func() (err error) {
			created, err = demo.Load(ctx, db.Client, time.Now().UTC())
			return err
		})
		if err != nil {
			a.Close()
			return nil, err
		}
		cfg.Logger.Info("demo data", "created", created, "reused", !created)
		if cfg.Banner != nil {
			demo.PrintBanner(cfg.Banner)
		}
	}
	if cfg.Metrics {
		a.Metrics = metrics.New(db.SQL, a.Broker.Count)
		if _, ok := db.Checkpoints(); ok {
			a.Metrics.Checkpoints(func() store.CheckpointStats {
				s, _ := db.Checkpoints()
				return s
			})
		}
		if _, ok := db.WriteGate(); ok {
			a.Metrics.WriteGate(func() store.WriteGateStats {
				s, _ := db.WriteGate()
				return s
			})
		}
	}
	res := &graph.Resolver{
		Client: db.Client, Auth: a.Auth, Workflow: a.Workflow, Directory: a.Directory, Broker: a.Broker,
		Stats:  stats.NewService(db.Client, cfg.Statistics),
		Logger: cfg.Logger, AuthError: reqctx.AuthError, ClientAddr: reqctx.ClientAddr, Limits: cfg.Limits,
	}
	schema := graph.NewSchema(res)
	if !cfg.ResolversOnly {
		if res.Direct, err = graph.NewDirect(schema.Schema(), db.Dialect); err != nil {
			return nil, err
		}
	}
	a.Handler = server.New(cfg.Server, server.Deps{
		Schema:  schema,
		Auth:    a.Auth,
		Ready:   a.Ready,
		Logger:  cfg.Logger,
		Metrics: a.Metrics,
		Configure: func(h *handler.Server) {
			h.SetErrorPresenter(graph.ErrorPresenter(cfg.Logger, reqctx.RequestID))
			if a.Metrics != nil {
				h.AroundRootFields(a.Metrics.RootField)
				h.AroundResponses(a.Metrics.Responses)
			}
			h.AroundRootFields(graph.AccessGate)
			h.AroundRootFields(res.LogReads)
			res.Install(h)
		},
	})
	return a, nil
}

// prepareSchema applies the pending migrations when told to, or when the
// database is empty (a fresh install just works); otherwise it refuses a
// schema that is behind, naming the command to run.
func prepareSchema(ctx context.Context, db *store.DB, migrate bool, log *slog.Logger) error {
	st, err := db.CheckSchema(ctx)
	if len(st.Unknown) > 0 {
		log.Warn("the database has migrations this program does not know: a newer version migrated it",
			"versions", st.Unknown)
	}
	if err != nil && !errors.Is(err, store.ErrSchemaBehind) {
		return fmt.Errorf("checking the schema of %s: %w", db.Where, err)
	}
	if err == nil {
		return nil
	}
	if !migrate && !st.Empty {
		return err
	}
	applied, err := db.Migrate(ctx)
	for _, m := range applied {
		log.Info("migration applied", "version", m.Version, "description", m.Description)
	}
	if err != nil {
		return fmt.Errorf("migrating %s: %w", db.Where, err)
	}
	if change := st.AccessLogChange(); change != "" {
		log.Warn(change, "file", db.AuditFile())
	}
	return nil
}

// Ready says whether the instance can serve: the database answers and, on
// PostgreSQL, the event listener is listening (else this instance's
// subscribers would miss the other instances' events).
func (a *App) Ready(ctx context.Context) error {
	if err := a.DB.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if a.Listener != nil {
		return a.Listener.Ready(ctx)
	}
	return nil
}

// Close stops event delivery and releases the database.
func (a *App) Close() error {
	if a.Listener != nil {
		a.Listener.Close()
	}
	a.Relay.Close()
	if a.Notifier != nil {
		a.Notifier.Close()
	}
	// Access-log rows still queued are written before the database closes.
	a.Workflow.Close()
	return a.DB.Close()
}
