package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"passerelle/store"
)

// cpuMeter reads the CPU time the processes of a measurement have used:
// this process (the server instances, the baseline and the load clients:
// they cannot be told apart), the peer's process tree, and the PostgreSQL
// backends connected to the database under test (when PostgreSQL runs on
// this host). Read before and after each slice, its differences give the
// CPU cost per operation of each contender, which on a shared machine
// says more than its throughput.
type cpuMeter struct {
	db      *sql.DB // PostgreSQL: to list the database's backends; nil otherwise
	peerPID int     // 0: no peer
	// gate reads the turns at SQLite's single writer (store.DB.WriteGate);
	// nil on PostgreSQL.
	gate func() (store.WriteGateStats, bool)
}

// cpuSample is one reading; per-process times so that a process started
// between two readings counts from zero.
type cpuSample struct {
	self    time.Duration
	peer    map[int]time.Duration
	backend map[int]time.Duration
	gate    store.WriteGateStats
	gateOK  bool
}

// cpuCost is the CPU used between two samples.
type cpuCost struct {
	self, peer, db time.Duration
	// peerOK, dbOK: the process times could be read.
	peerOK, dbOK bool
	// writeHeld and writeTurns: SQLite's single writer, held that long over
	// that many turns (the server's writes; the raw baselines take none).
	writeHeld  time.Duration
	writeTurns int64
}

func (c *cpuCost) add(o cpuCost) {
	c.self += o.self
	c.peer += o.peer
	c.db += o.db
	c.peerOK = c.peerOK || o.peerOK
	c.dbOK = c.dbOK || o.dbOK
	c.writeHeld += o.writeHeld
	c.writeTurns += o.writeTurns
}

func (m *cpuMeter) sample(ctx context.Context) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m == nil {
		return s
	}
	if m.gate != nil {
		s.gate, s.gateOK = m.gate()
	}
	if m.peerPID > 0 {
		s.peer = procCPU(processTree(m.peerPID))
	}
	if m.db != nil {
		s.backend = procCPU(m.backends(ctx))
	}
	return s
}

// since is the CPU used from earlier to s.
func (s cpuSample) since(earlier cpuSample) cpuCost {
	diff := func(now, before map[int]time.Duration) (time.Duration, bool) {
		var d time.Duration
		for pid, t := range now {
			d += t - before[pid]
		}
		return d, len(now) > 0
	}
	c := cpuCost{self: s.self - earlier.self}
	if s.gateOK && earlier.gateOK {
		c.writeHeld, c.writeTurns = s.gate.Held-earlier.gate.Held, s.gate.Turns-earlier.gate.Turns
	}
	c.peer, c.peerOK = diff(s.peer, earlier.peer)
	c.db, c.dbOK = diff(s.backend, earlier.backend)
	return c
}

// backends lists the PostgreSQL client backends of the current database
// that are processes of this host running postgres.
func (m *cpuMeter) backends(ctx context.Context) []int {
	rows, err := m.db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil && isPostgres(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isPostgres says whether pid, on this host, is a postgres process (the
// server could be elsewhere or in another pid namespace).
func isPostgres(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "postgres")
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTick = 10 * time.Millisecond

// procStat returns a process's parent and its user+system CPU time.
func procStat(pid int) (ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	return parseProcStat(string(b))
}

// parseProcStat reads the fields of /proc/<pid>/stat after the command
// name (which may hold spaces and parentheses): state, ppid, … utime
// (14th field), stime (15th).
func parseProcStat(s string) (ppid int, cpu time.Duration, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return ppid, time.Duration(utime+stime) * clockTick, true
}

func procCPU(pids []int) map[int]time.Duration {
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if _, cpu, ok := procStat(pid); ok {
			out[pid] = cpu
		}
	}
	return out
}

// processTree is root and its descendants (the peer's cluster workers).
func processTree(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(pid); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
