package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"passerelle/ent"
	"passerelle/ent/loginthrottle"
	"passerelle/ent/predicate"
	"passerelle/viewer"
)

// Throttle slows then locks repeated failed sign-ins, per key (an account's
// e-mail "email:x@y", a client address "addr:1.2.3.4"), with the rules of
// Limiter.
type Throttle interface {
	// Check returns how long the key must still wait (0: go ahead).
	Check(ctx context.Context, key string, now time.Time) (time.Duration, error)
	// Fail records a failure.
	Fail(ctx context.Context, key string, now time.Time) error
	// Reset forgets a key (after a successful sign-in).
	Reset(ctx context.Context, key string) error
}

// DBThrottle is a Throttle kept in the database (table login_throttles), so
// that all the instances sharing it count the same attempts: behind a load
// balancer, an attacker gets no more tries than against one instance. Its
// rules are Limiter's.
//
// Costs, per key: Check one SELECT (plus a DELETE when the key's window has
// passed); Fail a transaction of three statements (an upsert that creates or
// locks the row, a SELECT, an UPDATE), plus, when it created the row, one
// DELETE of the expired rows of every key; Reset one DELETE.
type DBThrottle struct {
	client    *ent.Client
	SlowAfter int           // as in Limiter
	LockAfter int           // as in Limiter
	LockFor   time.Duration // as in Limiter
	Window    time.Duration // as in Limiter
}

var _ Throttle = (*DBThrottle)(nil)

// NewDBThrottle returns a throttle kept in the database of client, with the
// given thresholds (the window is lockFor).
func NewDBThrottle(client *ent.Client, slowAfter, lockAfter int, lockFor time.Duration) *DBThrottle {
	return &DBThrottle{client: client, SlowAfter: slowAfter, LockAfter: lockAfter, LockFor: lockFor, Window: lockFor}
}

// forgotten selects the rows whose window has passed and which are neither
// slowed down nor locked at now: Limiter's
// now.Sub(last) > Window && now.After(nextAllowed).
func (t *DBThrottle) forgotten(now time.Time) predicate.LoginThrottle {
	return loginthrottle.And(
		loginthrottle.LastFailureAtLT(now.Add(-t.Window)),
		loginthrottle.Or(loginthrottle.LockedUntilIsNil(), loginthrottle.LockedUntilLT(now)),
	)
}

// dbKey is the key as stored: as it is up to the column's 320 characters,
// else (an e-mail typed that long) its SHA-256, so that no input turns a
// failed sign-in into a validation error.
func dbKey(key string) string {
	if len(key) <= 320 {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func nextAllowed(r *ent.LoginThrottle) time.Time {
	if r.LockedUntil == nil {
		return time.Time{}
	}
	return *r.LockedUntil
}

// Check returns how long the key must still wait (0: go ahead). A key whose
// window has passed is deleted.
func (t *DBThrottle) Check(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	sys := viewer.System(ctx)
	r, err := t.client.LoginThrottle.Query().Where(loginthrottle.Key(dbKey(key))).Only(sys)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	next := nextAllowed(r)
	if now.Sub(r.LastFailureAt) > t.Window && now.After(next) {
		// Still forgotten at the time of the delete: a failure recorded
		// meanwhile by another instance moved last_failure_at and keeps it.
		_, err := t.client.LoginThrottle.Delete().Where(loginthrottle.ID(r.ID), t.forgotten(now)).Exec(sys)
		return 0, err
	}
	if now.Before(next) {
		return next.Sub(now), nil
	}
	return 0, nil
}

// Fail records a failure. The row is created or locked first (an upsert:
// PostgreSQL holds its row lock, SQLite its write lock (BEGIN IMMEDIATE)
// until the commit), so concurrent failures, from any instance, are all
// counted. When the row is new, the expired rows of every key are then
// deleted: the table grows only by new keys, so it stays bounded by the keys
// that failed within the window, even under a spray of e-mails or
// addresses that are never checked again.
func (t *DBThrottle) Fail(ctx context.Context, key string, now time.Time) error {
	sys := viewer.System(ctx)
	tx, err := t.client.Tx(sys)
	if err != nil {
		return err
	}
	created, err := t.fail(sys, tx, dbKey(key), now)
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil || !created {
		return err
	}
	_, err = t.client.LoginThrottle.Delete().Where(t.forgotten(now)).Exec(sys)
	return err
}

// fail records the failure in tx and reports whether it created the row.
func (t *DBThrottle) fail(ctx context.Context, tx *ent.Tx, key string, now time.Time) (bool, error) {
	// A new row holds no failure yet and is not forgotten (its last failure
	// is now); an existing one is left as it is, but locked.
	err := tx.LoginThrottle.Create().SetKey(key).SetFailures(0).SetLastFailureAt(now).
		OnConflictColumns(loginthrottle.FieldKey).
		Update(func(u *ent.LoginThrottleUpsert) { u.AddFailures(0) }).
		Exec(ctx)
	if err != nil {
		return false, err
	}
	r, err := tx.LoginThrottle.Query().Where(loginthrottle.Key(key)).Only(ctx)
	if err != nil {
		return false, err
	}
	failures := r.Failures
	upd := tx.LoginThrottle.Update().Where(loginthrottle.ID(r.ID))
	if now.Sub(r.LastFailureAt) > t.Window && now.After(nextAllowed(r)) {
		failures = 0 // forgotten: start again
		upd.ClearLockedUntil()
	}
	failures++
	upd.SetFailures(failures).SetLastFailureAt(now)
	switch {
	case failures >= t.LockAfter:
		upd.SetLockedUntil(now.Add(t.LockFor))
	case failures >= t.SlowAfter:
		upd.SetLockedUntil(now.Add(time.Second << min(failures-t.SlowAfter, 8)))
	}
	return r.Failures == 0, upd.Exec(ctx)
}

// Reset forgets a key (after a successful sign-in).
func (t *DBThrottle) Reset(ctx context.Context, key string) error {
	_, err := t.client.LoginThrottle.Delete().Where(loginthrottle.Key(dbKey(key))).Exec(viewer.System(ctx))
	return err
}
