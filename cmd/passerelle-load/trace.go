package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// tracer prints the statements the server sends while armed, with the time
// since the previous one (the driver logs a statement before running it, so
// each gap is the previous statement's run plus the Go work in between).
type tracer struct {
	mu    sync.Mutex
	armed bool
	last  time.Time
	lines []string
}

func (t *tracer) trace(_ context.Context, stmt string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.armed {
		return
	}
	now := time.Now()
	if len(t.lines) > 0 {
		t.lines[len(t.lines)-1] = fmt.Sprintf("%8s  %s", fmtDur(now.Sub(t.last)), t.lines[len(t.lines)-1])
	}
	t.last = now
	if len(stmt) > 1500 {
		stmt = stmt[:1500] + "…"
	}
	t.lines = append(t.lines, stmt)
}

func (t *tracer) arm() {
	t.mu.Lock()
	t.armed, t.lines, t.last = true, nil, time.Now()
	t.mu.Unlock()
}

func (t *tracer) disarm(end time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed = false
	if len(t.lines) > 0 {
		t.lines[len(t.lines)-1] = fmt.Sprintf("%8s  %s", fmtDur(end.Sub(t.last)), t.lines[len(t.lines)-1])
	}
	return t.lines
}

// traceScenarios runs each scenario's operation once (after one untraced
// run that warms the caches) and prints its statements.
func traceScenarios(ctx context.Context, t *target, tr *tracer, scenarios []string) error {
	for _, s := range scenarios {
		var op operation
		switch s {
		case "S1":
			op = t.s1()
		case "S2":
			op = t.s2()
		case "S3":
			op = t.s3()
		case "S4":
			op = t.s4()
		}
		if _, err := op(ctx, 0); err != nil {
			return err
		}
		tr.arm()
		began := time.Now()
		_, err := op(ctx, 0)
		end := time.Now()
		lines := tr.disarm(end)
		if err != nil {
			return err
		}
		fmt.Printf("== %s: %s, %d statements\n%s\n\n", s, fmtDur(end.Sub(began)), len(lines), strings.Join(lines, "\n"))
	}
	return nil
}
