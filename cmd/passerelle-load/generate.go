package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"passerelle/datagen"
	"passerelle/store"
)

// storeFlags are the database flags shared by both commands.
func storeFlags(fs *flag.FlagSet) *store.Config {
	c := &store.Config{}
	fs.StringVar(&c.DataDir, "data-dir", "data-load", "directory of the SQLite database file")
	fs.StringVar(&c.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "postgres:// URL to use PostgreSQL instead of SQLite (env DATABASE_URL); a SQLite DSN is taken as is")
	fs.IntVar(&c.MaxOpenConns, "db-max-conns", 0, "as passerelle serve --db-max-conns (PostgreSQL default 20; SQLite unlimited)")
	fs.IntVar(&c.MaxIdleConns, "db-max-idle-conns", 0, "as passerelle serve --db-max-idle-conns (default: --db-max-conns on PostgreSQL, 4 × CPUs on SQLite)")
	return c
}

func generate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("generate", flag.ExitOnError)
	st := storeFlags(fs)
	preset := fs.String("preset", "idf", "data set: idf (60 000 requests) or france (1 000 000 requests)")
	seed := fs.Uint64("seed", 1, "seed: the same seed and sizes give the same rows")
	requests := fs.Int("requests", 0, "number of requests (default: the preset's)")
	writers := fs.Int("writers", 0, "concurrent writing transactions (default 1; PostgreSQL can use more)")
	end := fs.String("end", "", "end of the simulated year, YYYY-MM-DD (default: today, or the end of the run being resumed)")
	cacheMB := fs.Int("sqlite-cache-mb", 256, "SQLite page cache per connection while generating (MiB); 0 keeps the driver default (2 MiB)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the generation to this file")
	_ = fs.Parse(args)
	if *cpuprofile != "" {
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	c := datagen.CommandConfig{Store: *st, Preset: *preset, Seed: *seed, Requests: *requests, Writers: *writers,
		SQLiteCacheMB: *cacheMB, Out: os.Stdout}
	if *end != "" {
		t, err := time.Parse(time.DateOnly, *end)
		if err != nil {
			return fmt.Errorf("--end: %w", err)
		}
		c.End = t
	}
	return datagen.Command(ctx, c)
}

// startCPUProfile writes a CPU profile to path until the returned stop.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
