package gctune

import (
	"errors"
	"runtime/debug"
	"testing"
)

func TestContainerLimit(t *testing.T) {
	files := func(m map[string]string) func(string) (string, error) {
		return func(name string) (string, error) {
			if v, ok := m[name]; ok {
				return v, nil
			}
			return "", errors.New("no such file")
		}
	}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"cgroup v2 limit", map[string]string{"/sys/fs/cgroup/memory.max": "1073741824\n"}, 1 << 30, true},
		{"cgroup v2 unlimited", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, false},
		{"cgroup v1 limit", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912"}, 1 << 29, true},
		{"cgroup v1 unlimited (page-rounded max int64)", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, false},
		{"no cgroup", nil, 0, false},
		{"garbage", map[string]string{"/sys/fs/cgroup/memory.max": "lots"}, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := containerLimit(files(c.files))
			if got != c.want || ok != c.ok {
				t.Fatalf("containerLimit = %d, %v; want %d, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	s := Apply(0, 3<<30)
	if s.Percent != DefaultPercent || debug.SetGCPercent(-1) != DefaultPercent {
		t.Fatalf("default percent not applied: %+v", s)
	}
	debug.SetGCPercent(DefaultPercent)
	if s.Limit != 3<<30 || debug.SetMemoryLimit(-1) != 3<<30 || s.LimitFrom != "flag" {
		t.Fatalf("limit not applied: %+v", s)
	}

	// The runtime's own variables win: what it is running with is kept.
	debug.SetGCPercent(150)
	t.Setenv("GOGC", "150")
	if s := Apply(400, 0); s.Percent != 150 || s.PercentFrom != "GOGC" || debug.SetGCPercent(-1) != 150 {
		t.Fatalf("GOGC overridden: %+v", s)
	}
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(2 << 30)
	t.Setenv("GOMEMLIMIT", "2GiB")
	if s := Apply(400, 1<<30); s.Limit != 2<<30 || s.LimitFrom != "GOMEMLIMIT" {
		t.Fatalf("GOMEMLIMIT overridden: %+v", s)
	}
}
