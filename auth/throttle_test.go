package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"passerelle/apperr"
	"passerelle/auth"
	"passerelle/ent"
	"passerelle/ent/loginthrottle"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// limiterThrottle runs the in-memory Limiter, the reference of the rules,
// behind the Throttle interface.
type limiterThrottle struct{ l *auth.Limiter }

func (m limiterThrottle) Check(_ context.Context, key string, now time.Time) (time.Duration, error) {
	return m.l.Check(key, now), nil
}

func (m limiterThrottle) Fail(_ context.Context, key string, now time.Time) error {
	m.l.Fail(key, now)
	return nil
}

func (m limiterThrottle) Reset(_ context.Context, key string) error {
	m.l.Reset(key)
	return nil
}

// openShared opens n instances (pools, clients) on one fresh, migrated
// database, as several servers behind a load balancer.
func openShared(t *testing.T, n int) []*store.DB {
	t.Helper()
	url := storetest.DatabaseURL(t)
	var dbs []*store.DB
	for i := range n {
		db, err := store.Open(context.Background(), store.Config{DatabaseURL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if i == 0 {
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		dbs = append(dbs, db)
	}
	return dbs
}

func rows(t *testing.T, client *ent.Client) []*ent.LoginThrottle {
	t.Helper()
	r, err := client.LoginThrottle.Query().All(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDBThrottleFollowsLimiter plays the same steps on the Limiter and on
// the database throttle: every wait must be the same, and be the expected
// one (slow-down, lock, window counted from the last failure, reset).
func TestDBThrottleFollowsLimiter(t *testing.T) {
	db := openShared(t, 1)[0]
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 9, 30, 0, 123456000, time.UTC)
	type step struct {
		op   string // "fail", "reset", "wait" (advance the clock by what Check says), "sleep"
		d    time.Duration
		want time.Duration // the wait Check gives after the step; -1: do not assert
	}
	fail := func(n int, want time.Duration) []step {
		var s []step
		for range n - 1 {
			s = append(s, step{op: "fail", want: -1})
		}
		return append(s, step{op: "fail", want: want})
	}
	cat := func(parts ...[]step) []step {
		var s []step
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	cases := []struct {
		name                 string
		slowAfter, lockAfter int
		forgotten            bool // at the end: the key's row must be gone
		steps                []step
	}{
		{"slow then lock", 3, 10, true, cat(
			fail(2, 0),
			fail(1, time.Second),
			[]step{{op: "wait", want: 0}},
			fail(1, 2*time.Second),
			[]step{{op: "sleep", d: time.Second, want: time.Second}},
			fail(5, 64*time.Second),
			fail(1, 15*time.Minute), // the 10th
			[]step{{op: "sleep", d: 14 * time.Minute, want: time.Minute}},
			[]step{{op: "sleep", d: time.Minute + time.Microsecond, want: 0}},
		)},
		{"window counts from the last failure", 3, 10, false, cat(
			fail(2, 0),
			[]step{{op: "sleep", d: 14 * time.Minute, want: 0}},
			fail(1, time.Second), // third within 15 min of the second
			[]step{{op: "sleep", d: 15 * time.Minute, want: 0}},
			fail(1, 2*time.Second), // exactly the window: still counted
			[]step{{op: "sleep", d: 15*time.Minute + time.Microsecond, want: 0}},
			fail(1, 0), // forgotten: the first again
			fail(1, 0),
			fail(1, time.Second),
		)},
		{"reset on success", 3, 10, false, cat(
			fail(10, 15*time.Minute),
			[]step{{op: "reset", want: 0}},
			fail(2, 0),
			fail(1, time.Second),
		)},
		{"keeps failing while slowed", 20, 100, true, cat(
			[]step{{op: "wait", want: -1}, {op: "fail", want: -1}},
			func() []step {
				var s []step
				for range 99 {
					s = append(s, step{op: "wait", want: 0}, step{op: "fail", want: -1})
				}
				return s
			}(),
			[]step{{op: "sleep", want: 15 * time.Minute}},
			[]step{{op: "sleep", d: 31 * time.Minute, want: 0}},
		)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "email:" + c.name
			if c.name == "reset on success" { // longer than the column: stored hashed
				key = "email:" + strings.Repeat("x", 400) + "@example.org"
			}
			mem := limiterThrottle{auth.NewLimiter(c.slowAfter, c.lockAfter, 15*time.Minute)}
			dbt := auth.NewDBThrottle(db.Client, c.slowAfter, c.lockAfter, 15*time.Minute)
			now := start
			for i, s := range c.steps {
				switch s.op {
				case "fail":
					for _, th := range []auth.Throttle{mem, dbt} {
						if err := th.Fail(ctx, key, now); err != nil {
							t.Fatal(err)
						}
					}
				case "reset":
					for _, th := range []auth.Throttle{mem, dbt} {
						if err := th.Reset(ctx, key); err != nil {
							t.Fatal(err)
						}
					}
				case "wait":
					w, _ := mem.Check(ctx, key, now)
					now = now.Add(w)
				case "sleep":
					now = now.Add(s.d)
				}
				want, _ := mem.Check(ctx, key, now)
				got, err := dbt.Check(ctx, key, now)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("step %d (%s): the database throttle says wait %v, the limiter %v", i, s.op, got, want)
				}
				if s.want >= 0 && got != s.want {
					t.Fatalf("step %d (%s): wait %v, want %v", i, s.op, got, s.want)
				}
			}
			stored := key
			if len(key) > 320 {
				sum := sha256.Sum256([]byte(key))
				stored = "sha256:" + hex.EncodeToString(sum[:])
			}
			n, err := db.Client.LoginThrottle.Query().Where(loginthrottle.Key(stored)).Count(viewer.System(ctx))
			if err != nil {
				t.Fatal(err)
			}
			if left := n > 0; left == c.forgotten {
				t.Fatalf("row of the key left: %v, want %v", left, !c.forgotten)
			}
		})
	}
}

// TestDBThrottleForgetsExpiredRows: Check deletes its key's row once the
// window has passed, Reset deletes it, and a failure of any key deletes
// the rows of other keys whose window has passed.
func TestDBThrottleForgetsExpiredRows(t *testing.T) {
	db := openShared(t, 1)[0]
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	th := auth.NewDBThrottle(db.Client, 3, 10, 15*time.Minute)
	for _, k := range []string{"addr:a", "addr:b", "addr:c"} {
		if err := th.Fail(ctx, k, now); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 { // locked until now + 15 min + 1 s
		if err := th.Fail(ctx, "addr:locked", now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rows(t, db.Client)); n != 4 {
		t.Fatalf("%d rows, want 4", n)
	}
	if err := th.Reset(ctx, "addr:a"); err != nil {
		t.Fatal(err)
	}
	later := now.Add(15*time.Minute + time.Microsecond)
	if w, err := th.Check(ctx, "addr:b", later); err != nil || w != 0 {
		t.Fatalf("Check after the window: %v, %v", w, err)
	}
	if r := rows(t, db.Client); len(r) != 2 || r[0].Key == "addr:b" || r[1].Key == "addr:b" {
		t.Fatalf("after Reset(a) and Check(b) past the window, rows %v; want c and locked", keys(r))
	}
	// A failure elsewhere clears c (window passed) but not the locked key.
	if err := th.Fail(ctx, "addr:d", later); err != nil {
		t.Fatal(err)
	}
	r := rows(t, db.Client)
	if got := keys(r); len(got) != 2 || !got["addr:locked"] || !got["addr:d"] {
		t.Fatalf("after a failure of d, rows %v; want locked and d", got)
	}
}

func keys(r []*ent.LoginThrottle) map[string]bool {
	m := map[string]bool{}
	for _, x := range r {
		m[x.Key] = true
	}
	return m
}

// TestLoginThrottleSharedAcrossInstances: two services, each with its own
// pool, on one database (two instances behind a load balancer) count the
// same failures: failing on one slows down then locks the account on the
// other; a success on either forgets them.
func TestLoginThrottleSharedAcrossInstances(t *testing.T) {
	dbs := openShared(t, 2)
	sys := viewer.System(context.Background())
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	cfg := auth.Config{Now: func() time.Time { return now }}
	one, two := auth.NewService(dbs[0].Client, cfg), auth.NewService(dbs[1].Client, cfg)
	hash, err := auth.HashPassword("Correct-horse-42")
	if err != nil {
		t.Fatal(err)
	}
	if err := dbs[0].Client.User.Create().SetEmail("a@example.org").SetFirstName("A").SetLastName("B").
		SetPasswordHash(hash).SetPasswordChangedAt(now).Exec(sys); err != nil {
		t.Fatal(err)
	}
	code := func(err error) apperr.Code {
		var e *apperr.Error
		if errors.As(err, &e) {
			return e.Code
		}
		t.Fatalf("unexpected error %v", err)
		return ""
	}
	retry := func(err error) int {
		var e *apperr.Error
		if !errors.As(err, &e) || e.Code != apperr.RateLimited {
			t.Fatalf("got %v, want RATE_LIMITED", err)
		}
		return e.Extensions["retryAfterSeconds"].(int)
	}
	// Two failures on one, the third on two: slowed down on one.
	for i, s := range []*auth.Service{one, one, two} {
		if _, err := s.Login(ctx, "a@example.org", "wrong", "10.0.0."+string(rune('1'+i))); code(err) != apperr.Unauthenticated {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	_, err = one.Login(ctx, "a@example.org", "Correct-horse-42", "10.0.0.9")
	if s := retry(err); s != 1 {
		t.Fatalf("after 3 failures on two instances, retry in %d s, want 1", s)
	}
	// Up to the 10th failure, alternating, each waiting as told: locked on both.
	for i := 4; i <= 10; i++ {
		s := []*auth.Service{one, two}[i%2]
		_, err := s.Login(ctx, "a@example.org", "wrong", "10.0.1.1")
		if code(err) == apperr.RateLimited {
			now = now.Add(time.Duration(retry(err)) * time.Second)
			_, err = s.Login(ctx, "a@example.org", "wrong", "10.0.1.1")
		}
		if code(err) != apperr.Unauthenticated {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	for _, s := range []*auth.Service{one, two} {
		_, err := s.Login(ctx, "a@example.org", "Correct-horse-42", "10.0.2.1")
		if r := retry(err); r != 900 {
			t.Fatalf("after 10 failures, retry in %d s, want 900 (locked)", r)
		}
	}
	// After the lock, a success on two forgets the failures for one too.
	now = now.Add(15*time.Minute + time.Second)
	if _, err := two.Login(ctx, "a@example.org", "Correct-horse-42", "10.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := one.Login(ctx, "a@example.org", "wrong", "10.0.3.1"); code(err) != apperr.Unauthenticated {
			t.Fatalf("failure %d after a success: %v", i+1, err)
		}
	}
}

// TestDBThrottleCountsConcurrentFailures: failures recorded at once from
// many goroutines, half through each of two instances, are all counted.
func TestDBThrottleCountsConcurrentFailures(t *testing.T) {
	dbs := openShared(t, 2)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	const goroutines, each = 16, 5
	ths := []*auth.DBThrottle{
		auth.NewDBThrottle(dbs[0].Client, 1000, 1000, 15*time.Minute),
		auth.NewDBThrottle(dbs[1].Client, 1000, 1000, 15*time.Minute),
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				if err := ths[g%2].Fail(ctx, "addr:spray", now); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, err := dbs[0].Client.LoginThrottle.Query().Where(loginthrottle.Key("addr:spray")).Only(viewer.System(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if r.Failures != goroutines*each {
		t.Fatalf("%d failures counted, want %d", r.Failures, goroutines*each)
	}
}
