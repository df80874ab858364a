// Command passerelle-bench holds load generators, kept out of the server
// binary.
//
//	passerelle-bench subscriptions [--subs 10000] [--per-conn 100,1] [--broadcasts 5]
//	                               [--targeted-rate 20] [--targeted-for 10s] [--targeted-fanout 5]
//	                               [--duration 10m] [--cpuprofile broadcast.prof]
//
// subscriptions starts a server in this process (app.New on a temporary
// SQLite file with the demo data, listening on 127.0.0.1 only), holds N
// graphql-transport-ws subscriptions opened by a client in a child process
// (the same binary, so that the server's memory is measured alone), and
// measures memory per idle subscription, the latency of one event fanned out
// to all N subscribers and that of targeted events (each reaching a handful
// of subscribers) at a steady rate. It stops by itself, within --duration.
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
	case "subscriptions":
		err = subscriptions(ctx, os.Args[2:])
	case clientCommand: // internal: the load client, started by subscriptions
		err = runClient(ctx)
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "passerelle-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: passerelle-bench <command> [flags]

commands:
  subscriptions   hold N websocket subscriptions on an in-process server (loopback only) and
                  measure memory per idle subscription, broadcast and targeted delivery latency

Run "passerelle-bench subscriptions -h" for its flags.
`)
}
