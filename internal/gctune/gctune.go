// Package gctune sets the garbage collector of a server process.
//
// Go's default (GOGC=100: collect when the heap has doubled) suits programs
// whose live heap is large next to what each unit of work allocates. This
// server is the opposite: a small live heap (the SQLite page cache is C
// memory, outside it) and ≈ 1 MB of short-lived objects per dashboard page,
// so with the default it collects every few pages; collecting at 5× the live
// heap instead cut the dashboard's CPU per page by a quarter (see
// docs/performance.md). A soft memory limit bounds what that costs in
// memory: inside a memory-limited container it defaults to a share of the
// container's limit, so the collector works harder rather than the process
// being killed.
package gctune

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultPercent is the GOGC value servers run with unless told otherwise.
const DefaultPercent = 400

// containerShare is the part of a container's memory limit given to the Go
// heap as a soft limit (the rest: SQLite's page cache, stacks, the runtime).
const containerShare = 0.7

// Settings is what Apply did, for the start-up log.
type Settings struct {
	// Percent is the GOGC in force; PercentFrom says who chose it.
	Percent     int
	PercentFrom string
	// Limit is the soft memory limit in bytes (0: none); LimitFrom says who
	// chose it.
	Limit     int64
	LimitFrom string
}

// Apply sets the collector's target percentage and soft memory limit. The
// Go runtime's own variables win: with GOGC or GOMEMLIMIT in the
// environment, that setting is left as the runtime read it. A limit of 0
// means a share of the container's memory limit when there is one, else
// none.
func Apply(percent int, limitBytes int64) Settings {
	var s Settings
	if env := os.Getenv("GOGC"); env != "" {
		s.Percent, s.PercentFrom = debug.SetGCPercent(-1), "GOGC"
		debug.SetGCPercent(s.Percent)
	} else {
		if percent == 0 {
			percent = DefaultPercent
		}
		debug.SetGCPercent(percent)
		s.Percent, s.PercentFrom = percent, "flag"
	}
	switch {
	case os.Getenv("GOMEMLIMIT") != "":
		s.Limit, s.LimitFrom = debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	case limitBytes > 0:
		debug.SetMemoryLimit(limitBytes)
		s.Limit, s.LimitFrom = limitBytes, "flag"
	default:
		if c, ok := containerLimit(readFile); ok {
			s.Limit, s.LimitFrom = int64(float64(c)*containerShare), "container"
			debug.SetMemoryLimit(s.Limit)
		}
	}
	return s
}

func (s Settings) String() string {
	limit := "none"
	if s.Limit > 0 && s.Limit < 1<<62 {
		limit = fmt.Sprintf("%d MiB (%s)", s.Limit>>20, s.LimitFrom)
	}
	return fmt.Sprintf("GOGC=%d (%s), memory limit %s", s.Percent, s.PercentFrom, limit)
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}

// containerLimit reads the memory limit of the process's cgroup (v2, then
// v1). false when there is none: no cgroup file, "max", or a v1 value so
// large it means "unlimited".
func containerLimit(read func(string) (string, error)) (int64, bool) {
	for _, name := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		raw, err := read(name)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(raw)
		if v == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
