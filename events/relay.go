package events

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"passerelle/ent"
	"passerelle/ent/event"
	"passerelle/viewer"
)

// Channel is the PostgreSQL NOTIFY channel; the payload is an event id.
const Channel = "passerelle_events"

// OrderLockKey is the transaction-level advisory lock every event-writing
// transaction takes on PostgreSQL just before inserting its events: event
// ids then become visible in id order (commit order = id order), so that
// "every event with an id > X" read at any time is a prefix of the final
// timeline and a cursor never skips an event committed later with a smaller
// id. (SQLite serializes writers already.) The value is arbitrary but fixed
// ("passerel" in ASCII).
const OrderLockKey int64 = 0x7061737365726c

// Source reads committed events.
type Source interface {
	// After returns at most limit events with an id greater than after, in id order.
	After(ctx context.Context, after int64, limit int) ([]*ent.Event, error)
	// Head returns the greatest event id (0 when there is none).
	Head(ctx context.Context) (int64, error)
}

// EntSource reads events through ent, as the system (the broker's
// subscribers apply the viewer's row rules themselves).
type EntSource struct{ Client *ent.Client }

// After implements Source.
func (s EntSource) After(ctx context.Context, after int64, limit int) ([]*ent.Event, error) {
	return s.Client.Event.Query().Where(event.IDGT(after)).Order(ent.Asc(event.FieldID)).
		Limit(limit).All(viewer.System(ctx))
}

// Head implements Source.
func (s EntSource) Head(ctx context.Context) (int64, error) {
	e, err := s.Client.Event.Query().Order(ent.Desc(event.FieldID)).First(viewer.System(ctx))
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return e.ID, nil
}

// RelayConfig tunes a Relay.
type RelayConfig struct {
	// Postgres makes the relay take the order lock and send a NOTIFY in
	// event-writing transactions (see LockEvents, NotifyEvents).
	Postgres bool
	// Batch is the number of events read at once when catching up (default 500).
	Batch int
	// RetryMin and RetryMax bound the delay between reads after an error
	// (defaults 100ms and 5s).
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
}

// Relay hands committed events to a Broker exactly once and in id order,
// whichever way it learns of them: Publish (events this process committed),
// Notify (an id announced by PostgreSQL NOTIFY, possibly from another
// instance) or CatchUp (after a listener reconnected). It remembers the last
// id delivered; events it was given that follow it without a gap are
// delivered as they are, anything else makes it read every event after the
// last one delivered from the database (which closes gaps and makes
// duplicates impossible). Callers never wait: the work happens on the
// relay's own goroutine.
//
// It implements workflow.Publisher, plus LockEvents and NotifyEvents, which
// the workflow calls inside its transactions.
type Relay struct {
	broker *Broker
	src    Source
	cfg    RelayConfig

	last atomic.Int64 // greatest id delivered

	delivering sync.Mutex // held while handing events to the broker

	mu      sync.Mutex
	pending []*ent.Event // published locally, not yet delivered
	target  int64        // an id known to be committed
	full    bool         // read everything after last
	retry   time.Duration
	wake    chan struct{}

	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	started atomic.Bool
	reads   atomic.Int64
}

// NewRelay returns a relay feeding b from src. Start it before use.
func NewRelay(b *Broker, src Source, cfg RelayConfig) *Relay {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 100 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{broker: b, src: src, cfg: cfg, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
}

// Start reads the current head of the timeline (events before it are not
// delivered live: subscribers replay them from the table) and starts the
// delivery goroutine.
func (r *Relay) Start(ctx context.Context) error {
	head, err := r.src.Head(ctx)
	if err != nil {
		return err
	}
	r.last.Store(head)
	r.started.Store(true)
	go r.loop()
	return nil
}

// Close stops the relay and waits for its goroutine.
func (r *Relay) Close() {
	r.once.Do(func() { close(r.stop) })
	if r.started.Load() {
		<-r.stopped
	}
}

// Last returns the greatest event id delivered.
func (r *Relay) Last() int64 { return r.last.Load() }

// Reads returns how many times the relay read events back from the
// database (tests and metrics: local, gap-free publishing reads nothing).
func (r *Relay) Reads() int64 { return r.reads.Load() }

// Publish takes events just committed by this process. When they follow
// the last delivered event without a gap and nothing else is waiting, they
// are delivered before Publish returns (as a plain broker would: the
// writer's response then never overtakes its own event); otherwise the
// relay's goroutine takes over.
func (r *Relay) Publish(evs []*ent.Event) {
	if len(evs) == 0 {
		return
	}
	if r.deliverNow(evs) {
		return
	}
	r.mu.Lock()
	r.pending = append(r.pending, evs...)
	r.mu.Unlock()
	r.signal()
}

// deliverNow delivers evs on the caller's goroutine if that keeps the order:
// the relay is idle, nothing is pending and evs follow the last delivered
// event without a gap.
func (r *Relay) deliverNow(evs []*ent.Event) bool {
	if !r.started.Load() || !r.delivering.TryLock() {
		return false
	}
	defer r.delivering.Unlock()
	last := r.last.Load()
	r.mu.Lock()
	idle := len(r.pending) == 0 && !r.full && r.target <= last
	r.mu.Unlock()
	if !idle || !gapless(evs, last) {
		return false
	}
	r.broker.Publish(evs)
	r.last.Store(evs[len(evs)-1].ID)
	return true
}

// gapless reports whether evs are last+1, last+2, ...
func gapless(evs []*ent.Event, last int64) bool {
	for i, e := range evs {
		if e.ID != last+1+int64(i) {
			return false
		}
	}
	return len(evs) > 0
}

// Notify says that the event id committed (NOTIFY payload).
func (r *Relay) Notify(id int64) {
	if id <= r.last.Load() {
		return // already delivered, typically published locally
	}
	r.mu.Lock()
	r.target = max(r.target, id)
	r.mu.Unlock()
	r.signal()
}

// CatchUp makes the relay read every event after the last one delivered
// (after a listener (re)connected, or a notification it could not parse).
func (r *Relay) CatchUp() {
	r.mu.Lock()
	r.full = true
	r.mu.Unlock()
	r.signal()
}

// LockEvents is called inside an event-writing transaction right before its
// events are inserted: on PostgreSQL it takes the order lock (held until
// commit or rollback).
func (r *Relay) LockEvents(ctx context.Context, tx *ent.Tx) error {
	if !r.cfg.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", OrderLockKey)
	return err
}

// NotifyEvents is called inside the transaction after its events were
// inserted: on PostgreSQL it queues a NOTIFY carrying the greatest id, which
// PostgreSQL delivers to every listener on commit (and drops on rollback).
// One notification per transaction is enough: a listener reads every event
// after the last one it delivered.
func (r *Relay) NotifyEvents(ctx context.Context, tx *ent.Tx, evs []*ent.Event) error {
	if !r.cfg.Postgres || len(evs) == 0 {
		return nil
	}
	var top int64
	for _, e := range evs {
		top = max(top, e.ID)
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", Channel, strconv.FormatInt(top, 10))
	return err
}

func (r *Relay) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) loop() {
	defer close(r.stopped)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		}
		if err := r.deliver(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			r.full = true
			r.retry = min(max(2*r.retry, r.cfg.RetryMin), r.cfg.RetryMax)
			d := r.retry
			r.mu.Unlock()
			r.cfg.Logger.Warn("events: reading committed events failed; retrying", "error", err, "in", d)
			select {
			case <-r.stop:
				return
			case <-time.After(d):
			}
			r.signal()
			continue
		}
		r.mu.Lock()
		r.retry = 0
		r.mu.Unlock()
	}
}

// deliver hands over what is pending, in order, without gaps.
func (r *Relay) deliver(ctx context.Context) error {
	r.delivering.Lock()
	defer r.delivering.Unlock()
	r.mu.Lock()
	pending, target, full := r.pending, r.target, r.full
	r.pending, r.full = nil, false
	r.mu.Unlock()

	last := r.last.Load()
	slices.SortFunc(pending, func(a, b *ent.Event) int { return cmp.Compare(a.ID, b.ID) })
	pending = slices.CompactFunc(pending, func(a, b *ent.Event) bool { return a.ID == b.ID })
	i := 0
	for i < len(pending) && pending[i].ID <= last {
		i++
	}
	pending = pending[i:]

	if !full {
		// Fast path: what was published follows the last delivered event
		// without a gap and covers every id announced.
		if gapless(pending, last) && target <= pending[len(pending)-1].ID {
			r.broker.Publish(pending)
			r.last.Store(pending[len(pending)-1].ID)
			return nil
		}
		if len(pending) == 0 && target <= last {
			return nil
		}
	}
	// Slow path: read every committed event after the last one delivered.
	// Writers commit in id order (order lock, or SQLite's single writer), so
	// what is read is a prefix of the final timeline: nothing can appear
	// later below it.
	for {
		r.reads.Add(1)
		evs, err := r.src.After(ctx, last, r.cfg.Batch)
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			r.broker.Publish(evs)
			last = evs[len(evs)-1].ID
			r.last.Store(last)
		}
		if len(evs) < r.cfg.Batch {
			return nil
		}
	}
}
