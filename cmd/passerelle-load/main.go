// Command passerelle-load measures the server under load, on a data set
// written by `passerelle generate`, against baselines measured in the same
// run.
//
//	passerelle-load run --scenario S1|S2|S3|S4|all|S6 --mode closed|open [--concurrency N] [--rate R]
//	                    [--duration 20s] [--data-dir D] [--database-url URL] [--cpuprofile F]
//	                    [--instances 2] [--peer postgraphile|postgraphile-rls|both]
//
// run starts the server in this process
// (app.New on the given database, listening on 127.0.0.1 only), signs in
// generated accounts, drives one scenario with real HTTP clients (net/http,
// keep-alive) in a closed model (fixed concurrency) or an open model (fixed
// arrival rate), then the scenario's baseline (hand-written SQL over
// database/sql behind a plain net/http handler, or the raw write
// transactions for S3), and prints throughput, p50/p90/p99 and the ratios
// the performance issue targets, as a markdown table.
//
// On PostgreSQL, S6 (--scenario S6, or --instances N) also serves S1, S2
// and S3 from several instances on the same database (app.New each, with
// its own pool, listener and broker, on its own loopback port), the clients
// spread round-robin, in the same alternating slices as one instance; during
// S3 one live subscriber per instance checks that every event reaches every
// instance. --peer starts PostGraphile (bench/postgraphile, Node.js) as a
// child process over the same database and measures its receiver inbox in
// S1's slices. Every contender's CPU per operation is reported: this
// process, the peer's processes, the database's PostgreSQL backends.
//
// Everything is bounded: each measurement lasts at most 30 s and at most
// --max-requests operations, and the tool stops by itself.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
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
	case "run":
		err = run(ctx, os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle-load:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: passerelle-load <command> [flags]

commands:
  run        load an in-process server (loopback only) with scenario S1..S4 and compare with baselines

Run "passerelle-load <command> -h" for the flags of a command. The data sets
come from "passerelle generate --preset idf|france".
`)
}
