package main

import (
	"flag"
	"os"
	"runtime/pprof"

	"passerelle/store"
)

// storeFlags are the database flags of run.
func storeFlags(fs *flag.FlagSet) *store.Config {
	c := &store.Config{}
	fs.StringVar(&c.DataDir, "data-dir", "data-load", "directory of the SQLite database file")
	fs.StringVar(&c.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "postgres:// URL to use PostgreSQL instead of SQLite (env DATABASE_URL); a SQLite DSN is taken as is")
	fs.IntVar(&c.MaxOpenConns, "db-max-conns", 0, "as passerelle serve --db-max-conns (PostgreSQL default 20; SQLite 4 × CPUs)")
	fs.IntVar(&c.MaxIdleConns, "db-max-idle-conns", 0, "as passerelle serve --db-max-idle-conns (default: --db-max-conns)")
	fs.DurationVar(&c.CheckpointInterval, "sqlite-checkpoint-interval", store.DefaultCheckpointInterval, "as passerelle serve --sqlite-checkpoint-interval (negative, e.g. -1s: SQLite checkpoints at commit)")
	return c
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
