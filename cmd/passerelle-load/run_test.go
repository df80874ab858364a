package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

const pgURL = "--database-url=postgres://postgres@127.0.0.1:5432/bench?sslmode=disable"

func TestParseRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		scenarios []string
		instances int
		peers     []string
		err       string // a part of the error, "" for none
	}{
		{name: "defaults", args: []string{"--database-url="}, scenarios: []string{"S1", "S2", "S4", "S3"}, instances: 1},
		{name: "S6 is S1 S2 S3 on two instances", args: []string{pgURL, "--scenario", "S6"},
			scenarios: []string{"S1", "S2", "S3"}, instances: 2},
		{name: "S6 with more instances", args: []string{pgURL, "--scenario", "s6", "--instances", "3"},
			scenarios: []string{"S1", "S2", "S3"}, instances: 3},
		{name: "S6 and all, no duplicate", args: []string{pgURL, "--scenario", "S6,all"},
			scenarios: []string{"S1", "S2", "S3", "S4"}, instances: 2},
		{name: "instances on any scenario", args: []string{pgURL, "--scenario", "S1", "--instances", "2"},
			scenarios: []string{"S1"}, instances: 2},
		{name: "S6 needs several", args: []string{pgURL, "--scenario", "S6", "--instances", "1"}, err: "must be 2 or more"},
		{name: "too many instances", args: []string{pgURL, "--instances", "5"}, err: "between 1 and 4"},
		{name: "instances need PostgreSQL", args: []string{"--database-url=", "--scenario", "S6"}, err: "PostgreSQL"},
		{name: "instances on a SQLite DSN", args: []string{"--database-url=file:/tmp/x.db", "--instances", "2"}, err: "PostgreSQL"},
		{name: "peer", args: []string{pgURL, "--scenario", "S1", "--peer", "postgraphile"},
			scenarios: []string{"S1"}, instances: 1, peers: []string{peerPlain}},
		{name: "both peers", args: []string{pgURL, "--scenario", "S1", "--peer", "both"},
			scenarios: []string{"S1"}, instances: 1, peers: []string{peerPlain, peerRLS}},
		{name: "peer list", args: []string{pgURL, "--scenario", "S1", "--peer", "postgraphile-rls, postgraphile,postgraphile-rls"},
			scenarios: []string{"S1"}, instances: 1, peers: []string{peerRLS, peerPlain}},
		{name: "peer none", args: []string{pgURL, "--scenario", "S1", "--peer", "none"}, scenarios: []string{"S1"}, instances: 1},
		{name: "unknown peer", args: []string{pgURL, "--peer", "hasura"}, err: "--peer"},
		{name: "peer needs S1", args: []string{pgURL, "--scenario", "S2,S3", "--peer", "postgraphile"}, err: "needs scenario S1"},
		{name: "peer needs PostgreSQL", args: []string{"--database-url=", "--scenario", "S1", "--peer", "postgraphile"}, err: "PostgreSQL"},
		{name: "peer workers", args: []string{pgURL, "--scenario", "S1", "--peer", "postgraphile", "--peer-workers", "0"}, err: "--peer-workers"},
		{name: "peer pool", args: []string{pgURL, "--scenario", "S1", "--peer", "postgraphile", "--peer-pool", "1000"}, err: "--peer-pool"},
		{name: "trace with instances", args: []string{pgURL, "--trace", "--instances", "2"}, err: "--trace"},
		{name: "trace with a peer", args: []string{pgURL, "--trace", "--scenario", "S1", "--peer", "postgraphile"}, err: "--trace"},
		{name: "unknown scenario", args: []string{pgURL, "--scenario", "S5"}, err: "unknown scenario"},
		{name: "stray argument", args: []string{pgURL, "S6"}, err: "unexpected arguments"},
		{name: "open needs a rate", args: []string{pgURL, "--mode", "open"}, err: "--rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseRun(tc.args, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o.cfg.scenarios, tc.scenarios) {
				t.Errorf("scenarios %v, want %v", o.cfg.scenarios, tc.scenarios)
			}
			if o.cfg.instances != tc.instances {
				t.Errorf("instances %d, want %d", o.cfg.instances, tc.instances)
			}
			if !slices.Equal(o.cfg.peers, tc.peers) {
				t.Errorf("peers %v, want %v", o.cfg.peers, tc.peers)
			}
		})
	}
}

func TestParseRunHelpAndDurationCap(t *testing.T) {
	if _, err := parseRun([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	o, err := parseRun([]string{"--database-url=", "--duration", "2m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.limits.duration != maxDuration {
		t.Fatalf("duration %s, want the cap %s", o.cfg.limits.duration, maxDuration)
	}
}

func TestPeerVariant(t *testing.T) {
	if peerVariant(peerPlain) != "plain" || peerVariant(peerRLS) != "rls" {
		t.Fatal(peerVariant(peerPlain), peerVariant(peerRLS))
	}
}

func TestWithApplicationName(t *testing.T) {
	got := withApplicationName("postgres://postgres@127.0.0.1:5432/db?sslmode=disable", "passerelle-load-2")
	if got != "postgres://postgres@127.0.0.1:5432/db?application_name=passerelle-load-2&sslmode=disable" {
		t.Fatal(got)
	}
	if got := withApplicationName("file:/tmp/x.db?_fk=1", "x"); got != "file:/tmp/x.db?_fk=1" {
		t.Fatal("a SQLite DSN changed:", got)
	}
}

func TestRoundRobin(t *testing.T) {
	pick := roundRobin([]string{"a", "b"})
	var got []string
	for range 5 {
		got = append(got, pick())
	}
	if strings.Join(got, "") != "ababa" {
		t.Fatal(got)
	}
	one := roundRobin([]string{"a"})
	if one() != "a" || one() != "a" {
		t.Fatal("one endpoint")
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (node (worker) 1) S 4200 4242 4200 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 11 0 100 0 0"
	ppid, cpu, ok := parseProcStat(line)
	if !ok || ppid != 4200 || cpu != 325*clockTick {
		t.Fatalf("ppid %d cpu %s ok %v", ppid, cpu, ok)
	}
	if _, _, ok := parseProcStat("4242 (truncated"); ok {
		t.Fatal("a truncated line parsed")
	}
}

func TestCPUSampleSince(t *testing.T) {
	before := cpuSample{self: time.Second, peer: map[int]time.Duration{1: 100 * time.Millisecond},
		backend: map[int]time.Duration{7: time.Second}}
	// pid 2 and 8 started in between: they count from zero.
	after := cpuSample{self: 3 * time.Second, peer: map[int]time.Duration{1: 300 * time.Millisecond, 2: 50 * time.Millisecond},
		backend: map[int]time.Duration{7: 1500 * time.Millisecond, 8: 20 * time.Millisecond}}
	c := after.since(before)
	if c.self != 2*time.Second || c.peer != 250*time.Millisecond || c.db != 520*time.Millisecond || !c.peerOK || !c.dbOK {
		t.Fatalf("%+v", c)
	}
	if c := (cpuSample{self: time.Second}).since(cpuSample{}); c.peerOK || c.dbOK {
		t.Fatalf("nothing read, yet %+v", c)
	}
}

func TestCompareLive(t *testing.T) {
	want := []int64{10, 12}
	o := compareLive(want, [][]int64{{10, 11, 12}, {10, 11, 12}}, []error{nil, nil})
	if !o.ok() {
		t.Fatalf("%+v", o)
	}
	o = compareLive(want, [][]int64{{10, 11, 12}, {10, 11}}, []error{nil, nil})
	if o.ok() || o.missing[1] != 1 || o.same {
		t.Fatalf("a missing event passed: %+v", o)
	}
	o = compareLive(want, [][]int64{{10, 12, 12}, {10, 12, 12}}, []error{nil, nil})
	if o.ok() || o.dup[0] != 1 {
		t.Fatalf("a duplicate passed: %+v", o)
	}
	o = compareLive(want, [][]int64{{12, 10}, {12, 10}}, []error{nil, nil})
	if o.ok() || o.disord[0] != 1 {
		t.Fatalf("disorder passed: %+v", o)
	}
	if o := compareLive(nil, [][]int64{{}, {}}, []error{nil, nil}); o.ok() {
		t.Fatal("no event at all passed")
	}
}
