// Command passerelle is the Passerelle server and its tools.
//
//	passerelle serve [--demo] [--migrate] [--addr 127.0.0.1:8080] [--data-dir data] [--database-url URL] [--db-max-conns N] [--cors-origins ...]
//	passerelle migrate [--data-dir data] [--database-url URL]
//	passerelle bootstrap --email E --first-name F --last-name L   (first REGIONAL_SUPPORT account)
//	passerelle generate --preset idf|france|tiny [--seed N] [--requests N] [--writers N] [--end YYYY-MM-DD]   (synthetic data set)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"passerelle/app"
	"passerelle/auth"
	"passerelle/datagen"
	"passerelle/graph"
	"passerelle/internal/gctune"
	"passerelle/notify"
	"passerelle/server"
	"passerelle/stats"
	"passerelle/store"
	"passerelle/viewer"
	"passerelle/workflow"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "migrate":
		err = migrate(ctx, os.Args[2:])
	case "bootstrap":
		err = bootstrap(ctx, os.Args[2:])
	case "generate":
		err = generate(ctx, os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: passerelle <command> [flags]

commands:
  serve       run the GraphQL server (embedded SQLite by default; --demo loads demo data)
  migrate     apply the pending schema migrations (serve refuses a schema that is behind)
  bootstrap   create the first REGIONAL_SUPPORT account and print its one-time set-up token
  generate    write a deterministic synthetic data set (a year of a region or of France), for load tests

Run "passerelle <command> -h" for the flags of a command. Every flag has an
environment twin (PASSERELLE_ADDR, PASSERELLE_DATA_DIR, DATABASE_URL, ...).
`)
}

// env returns the environment variable or the default.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	return v == "1" || strings.EqualFold(v, "true") || strings.EqualFold(v, "yes")
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "passerelle: ignoring %s=%q (not a duration)\n", name, v)
	}
	return def
}

func envInt(name string, def int) int {
	if v, ok := os.LookupEnv(name); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		fmt.Fprintf(os.Stderr, "passerelle: ignoring %s=%q (not an integer)\n", name, v)
	}
	return def
}

// storeFlags adds the database flags shared by every command.
func storeFlags(fs *flag.FlagSet) *store.Config {
	c := &store.Config{}
	fs.StringVar(&c.DataDir, "data-dir", env("PASSERELLE_DATA_DIR", "data"), "directory of the SQLite database file (env PASSERELLE_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "postgres:// URL to use PostgreSQL instead of SQLite (env DATABASE_URL)")
	fs.IntVar(&c.MaxOpenConns, "db-max-conns", envInt("PASSERELLE_DB_MAX_CONNS", 0),
		"most open database connections in the pool; default 20 on PostgreSQL (plus one per instance for the event listener), 4 × CPUs on SQLite (env PASSERELLE_DB_MAX_CONNS)")
	fs.IntVar(&c.MaxIdleConns, "db-max-idle-conns", envInt("PASSERELLE_DB_MAX_IDLE_CONNS", 0),
		"most idle connections kept in the pool; default: --db-max-conns (env PASSERELLE_DB_MAX_IDLE_CONNS)")
	fs.DurationVar(&c.ConnMaxLifetime, "db-conn-max-lifetime", envDuration("PASSERELLE_DB_CONN_MAX_LIFETIME", 0),
		"close pooled connections after this long, e.g. 30m; 0 keeps them (env PASSERELLE_DB_CONN_MAX_LIFETIME)")
	fs.DurationVar(&c.CheckpointInterval, "sqlite-checkpoint-interval", envDuration("PASSERELLE_SQLITE_CHECKPOINT_INTERVAL", store.DefaultCheckpointInterval),
		"SQLite: copy the write-ahead log back into the database file in the background, this long after writes; a negative value (e.g. -1s) leaves it to SQLite, in the commit that fills the log (env PASSERELLE_SQLITE_CHECKPOINT_INTERVAL)")
	return c
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func serve(ctx context.Context, args []string) error {
	fs, run := serveCommand()
	_ = fs.Parse(args)
	return run(ctx)
}

// serveCommand declares serve's flags and returns what runs with their
// values once parsed (TestServeFlagsDocumented reads the declarations).
func serveCommand() (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	st := storeFlags(fs)
	addr := fs.String("addr", env("PASSERELLE_ADDR", "127.0.0.1:8080"), "listen address (env PASSERELLE_ADDR)")
	cors := fs.String("cors-origins", env("PASSERELLE_CORS_ORIGINS", ""), "comma-separated allowed browser origins (env PASSERELLE_CORS_ORIGINS)")
	demoMode := fs.Bool("demo", envBool("PASSERELLE_DEMO", false), "load the demo data set into an empty database; demo accounts may sign in; implies --migrate (env PASSERELLE_DEMO)")
	migrateAtStart := fs.Bool("migrate", envBool("PASSERELLE_MIGRATE", false), "apply pending schema migrations at start instead of refusing to start (env PASSERELLE_MIGRATE)")
	production := fs.Bool("production", envBool("PASSERELLE_PRODUCTION", false), "turn off the IDE and introspection (env PASSERELLE_PRODUCTION)")
	tokenTTL := fs.Duration("token-ttl", envDuration("PASSERELLE_TOKEN_TTL", 12*time.Hour), "absolute session lifetime (env PASSERELLE_TOKEN_TTL)")
	idle := fs.Duration("idle-timeout", envDuration("PASSERELLE_IDLE_TIMEOUT", 30*time.Minute), "session idle timeout (env PASSERELLE_IDLE_TIMEOUT)")
	maxHab := fs.Duration("max-habilitation", envDuration("PASSERELLE_MAX_HABILITATION", 365*24*time.Hour), "longest habilitation validity (env PASSERELLE_MAX_HABILITATION)")
	behindTLS := fs.Bool("behind-tls", envBool("PASSERELLE_BEHIND_TLS", false), "clients reach the server over HTTPS: send HSTS (env PASSERELLE_BEHIND_TLS)")
	trustProxy := fs.Bool("trust-proxy", envBool("PASSERELLE_TRUST_PROXY", false), "take the client address from X-Forwarded-For (env PASSERELLE_TRUST_PROXY)")
	jsonLogs := fs.Bool("json-logs", envBool("PASSERELLE_JSON_LOGS", false), "log as JSON (env PASSERELLE_JSON_LOGS)")
	metricsAddr := fs.String("metrics-addr", env("PASSERELLE_METRICS_ADDR", ""),
		"serve Prometheus metrics at /metrics on this address, apart from the API (e.g. 127.0.0.1:9090; default: off) (env PASSERELLE_METRICS_ADDR)")
	gcPercent := fs.Int("gc-percent", envInt("PASSERELLE_GC_PERCENT", gctune.DefaultPercent),
		"collect garbage when the heap has grown by this percentage of the live heap; Go's GOGC, if set, wins (env PASSERELLE_GC_PERCENT)")
	directReads := fs.Bool("direct-reads", envBool("PASSERELLE_DIRECT_READS", true),
		"serve the selections package graph/direct can read (a unit's inbox) with one SQL statement each; false: every field through the resolvers, with the same answers (env PASSERELLE_DIRECT_READS)")
	opTimeout := fs.Duration("operation-timeout", envDuration("PASSERELLE_OPERATION_TIMEOUT", graph.DefaultOperationTimeout),
		"stop a query or mutation that runs longer than this (INTERNAL error); subscriptions are not bounded; a negative value (-1s): no bound (env PASSERELLE_OPERATION_TIMEOUT)")
	memLimit := fs.Int("memory-limit-mb", envInt("PASSERELLE_MEMORY_LIMIT_MB", 0),
		"soft memory limit of the Go heap in MiB (0: 70 % of the container's memory limit if any, else none); Go's GOMEMLIMIT, if set, wins (env PASSERELLE_MEMORY_LIMIT_MB)")
	archiveAfter := fs.Duration("archive-after", envDuration("PASSERELLE_ARCHIVE_AFTER", workflow.DefaultArchiveAfter),
		"archive admitted and cancelled requests this long after the admission or cancellation; 0: never (env PASSERELLE_ARCHIVE_AFTER)")
	archiveEvery := fs.Duration("archive-interval", envDuration("PASSERELLE_ARCHIVE_INTERVAL", workflow.DefaultArchiveInterval),
		"how often archiving looks for due requests (also once at start) (env PASSERELLE_ARCHIVE_INTERVAL)")
	statsFresh := fs.Duration("statistics-fresh", envDuration("PASSERELLE_STATISTICS_FRESH", stats.DefaultFresh),
		"serve computed statistics again for this long; 0: compute every request (env PASSERELLE_STATISTICS_FRESH)")
	statsStale := fs.Duration("statistics-stale", envDuration("PASSERELLE_STATISTICS_STALE", stats.DefaultStale),
		"after that and up to this age, serve them at once while computing new ones (env PASSERELLE_STATISTICS_STALE)")
	smtpAddr := fs.String("smtp-addr", env("PASSERELLE_SMTP_ADDR", ""),
		"mail server (host:port) for the e-mail notifications; empty: no e-mails (env PASSERELLE_SMTP_ADDR)")
	smtpFrom := fs.String("smtp-from", env("PASSERELLE_SMTP_FROM", "Passerelle <ne-pas-repondre@localhost>"),
		"sender of the e-mail notifications (env PASSERELLE_SMTP_FROM)")
	smtpUser := fs.String("smtp-username", env("PASSERELLE_SMTP_USERNAME", ""),
		"user name at the mail server, with the password in PASSERELLE_SMTP_PASSWORD (env PASSERELLE_SMTP_USERNAME)")
	publicURL := fs.String("public-url", env("PASSERELLE_PUBLIC_URL", ""),
		"the address people open Passerelle at, quoted in the e-mails (env PASSERELLE_PUBLIC_URL)")
	return fs, func(ctx context.Context) error {
		var h slog.Handler = slog.NewTextHandler(os.Stderr, nil)
		if *jsonLogs {
			h = slog.NewJSONHandler(os.Stderr, nil)
		}
		logger := slog.New(h)
		logger.Info("garbage collector", "settings", gctune.Apply(*gcPercent, int64(*memLimit)<<20).String())
		notifications := notify.Config{PublicURL: *publicURL}
		if *smtpAddr != "" {
			mailer := notify.SMTP{Addr: *smtpAddr, From: *smtpFrom, Username: *smtpUser, Password: os.Getenv("PASSERELLE_SMTP_PASSWORD")}
			if err := mailer.Check(); err != nil {
				return fmt.Errorf("e-mail notifications: %w", err)
			}
			notifications.Sender = mailer
			logger.Info("e-mail notifications on", "server", *smtpAddr, "from", *smtpFrom)
		} else {
			logger.Info("e-mail notifications off (no --smtp-addr)")
		}
		origins := splitList(*cors)
		if *demoMode && len(origins) == 0 {
			origins = []string{"http://localhost:*", "http://127.0.0.1:*"}
		}
		a, err := app.New(ctx, app.Config{
			Store: *st,
			Server: server.Config{
				CORSOrigins: origins, EnableIDE: !*production, EnableIntrospection: !*production,
				BehindTLS: *behindTLS, TrustProxy: *trustProxy,
			},
			Auth:                    auth.Config{TokenTTL: *tokenTTL, IdleTimeout: *idle},
			MaxHabilitationDuration: *maxHab,
			Demo:                    *demoMode,
			Migrate:                 *migrateAtStart,
			Metrics:                 *metricsAddr != "",
			ResolversOnly:           !*directReads,
			Limits:                  graph.Limits{OperationTimeout: *opTimeout},
			Archive:                 workflow.ArchiveConfig{After: *archiveAfter, Interval: *archiveEvery},
			Notify:                  notifications,
			Statistics:              stats.CacheConfig{Fresh: *statsFresh, Stale: *statsStale},
			Logger:                  logger,
			Banner:                  os.Stdout,
		})
		if err != nil {
			return err
		}
		defer a.Close()
		if *metricsAddr != "" {
			ln, err := net.Listen("tcp", *metricsAddr)
			if err != nil {
				return fmt.Errorf("metrics: listen on %s: %w", *metricsAddr, err)
			}
			mux := http.NewServeMux()
			mux.Handle("/metrics", a.Metrics.Handler())
			mlog := logger.With("listener", "metrics")
			go func() {
				if err := server.Serve(ctx, ln, mux, mlog); err != nil {
					mlog.Error("metrics listener stopped", "error", err)
				}
			}()
		}
		logger.Info("database ready", "where", a.DB.Where)
		return server.Run(ctx, *addr, a.Handler, logger)
	}
}

// generate writes a synthetic data set. Restarting it after an
// interruption continues where it stopped (the data are a function of the
// seed); it never touches a database holding real data.
func generate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("generate", flag.ExitOnError)
	st := storeFlags(fs)
	preset := fs.String("preset", "idf", "idf (60 000 requests over Île-de-France), france (1 000 000 over 101 départements) or tiny (400)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same data set")
	requests := fs.Int("requests", 0, "number of requests (default: the preset's)")
	writers := fs.Int("writers", 1, "concurrent writing transactions (PostgreSQL benefits from 2)")
	cacheMB := fs.Int("sqlite-cache-mb", 256, "SQLite page cache per connection while generating, in MiB")
	end := fs.String("end", "", "end of the simulated year, YYYY-MM-DD (default: today, or the end of the run being resumed)")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("generate: unexpected argument %q", fs.Arg(0))
	}
	if *requests < 0 || *writers < 1 || *cacheMB < 0 {
		return errors.New("generate: --requests must be ≥ 0, --writers ≥ 1, --sqlite-cache-mb ≥ 0")
	}
	c := datagen.CommandConfig{Store: *st, Preset: *preset, Seed: *seed,
		Requests: *requests, Writers: *writers, SQLiteCacheMB: *cacheMB}
	if *end != "" {
		t, err := time.Parse(time.DateOnly, *end)
		if err != nil {
			return fmt.Errorf("generate: --end: %w", err)
		}
		c.End = t
	}
	return datagen.Command(ctx, c)
}

func migrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ExitOnError)
	st := storeFlags(fs)
	_ = fs.Parse(args)
	db, err := store.Open(ctx, *st)
	if err != nil {
		return err
	}
	defer db.Close()
	status, err := db.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	if len(status.Unknown) > 0 {
		fmt.Printf("warning: %s has migrations this program does not know (a newer version applied them): %s\n",
			db.Where, strings.Join(status.Unknown, ", "))
	}
	applied, err := db.Migrate(ctx)
	for _, m := range applied {
		fmt.Printf("applied %s\n", m)
	}
	if err != nil {
		return err
	}
	if change := status.AccessLogChange(); change != "" {
		fmt.Printf("%s: %s\n", change, db.AuditFile())
	}
	if len(applied) == 0 {
		fmt.Printf("schema of %s already up to date\n", db.Where)
		return nil
	}
	fmt.Printf("schema of %s is up to date (%d migration(s) applied)\n", db.Where, len(applied))
	return nil
}

func bootstrap(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bootstrap", flag.ExitOnError)
	st := storeFlags(fs)
	email := fs.String("email", "", "e-mail of the first regional support account")
	first := fs.String("first-name", "", "first name")
	last := fs.String("last-name", "", "last name")
	_ = fs.Parse(args)
	if *email == "" || *first == "" || *last == "" {
		return errors.New("bootstrap needs --email, --first-name and --last-name")
	}
	a, err := app.New(ctx, app.Config{Store: *st})
	if err != nil {
		return err
	}
	defer a.Close()
	acc, err := a.Directory.Bootstrap(viewer.System(ctx), *email, *first, *last)
	if err != nil {
		return err
	}
	fmt.Printf("Account %s created (REGIONAL_SUPPORT).\n", acc.User.Email)
	fmt.Printf("One-time set-up token (valid until %s):\n\n  %s\n\n", acc.SetupTokenExpiresAt.Format(time.RFC3339), acc.SetupToken)
	fmt.Println("Sign in with the mutation setupPassword(setupToken, newPassword) to choose the password.")
	return nil
}
