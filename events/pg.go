package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListenerApplicationName is the application_name of the listener's
// connection (to find it in pg_stat_activity).
const ListenerApplicationName = "passerelle-listener"

// ListenerConfig tunes a Listener.
type ListenerConfig struct {
	// BackoffMin and BackoffMax bound the exponential delay between
	// reconnection attempts (defaults 100ms and 10s).
	BackoffMin, BackoffMax time.Duration
	// CheckInterval is how long the listener waits for a notification before
	// checking that its connection still answers (default 30s).
	CheckInterval time.Duration
	// ApplicationName overrides ListenerApplicationName.
	ApplicationName string
	Logger          *slog.Logger
}

// Listener receives the PostgreSQL notifications of committed events (from
// every instance on the database) on a dedicated connection and hands their
// ids to a Relay, which reads the rows back and delivers them in order. On
// every (re)connection, once LISTEN is active, it makes the relay read every
// event after the last one delivered: notifications sent while it was away
// are lost, the rows are not. It reconnects with exponential backoff and
// reports readiness (Ready) for /readyz.
type Listener struct {
	url   string
	relay *Relay
	cfg   ListenerConfig

	mu    sync.Mutex
	up    bool
	err   error
	conns int // successful connections so far

	cancel context.CancelFunc
	done   chan struct{}
}

var errNotStarted = errors.New("event listener not connected yet")

// NewListener returns a listener on the database at url feeding relay.
func NewListener(url string, relay *Relay, cfg ListenerConfig) *Listener {
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = 10 * time.Second
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 30 * time.Second
	}
	if cfg.ApplicationName == "" {
		cfg.ApplicationName = ListenerApplicationName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{url: url, relay: relay, cfg: cfg, err: errNotStarted}
}

// Start runs the listener in the background until Close.
func (l *Listener) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
}

// WaitReady waits until the listener is connected and listening (or ctx ends).
func (l *Listener) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if err := l.Ready(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("event listener: %w (last error: %v)", ctx.Err(), l.Ready(ctx))
		case <-t.C:
		}
	}
}

// Close stops the listener and closes its connection.
func (l *Listener) Close() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
}

// Ready is nil while the listener is listening, else says why not.
func (l *Listener) Ready(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.up {
		return nil
	}
	return fmt.Errorf("event listener down: %w", l.err)
}

// Connections returns how many times the listener connected.
func (l *Listener) Connections() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns
}

func (l *Listener) setState(up bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.up, l.err = up, err
	if up {
		l.conns++
	}
}

func (l *Listener) run(ctx context.Context) {
	backoff := l.cfg.BackoffMin
	for {
		listened, err := l.session(ctx)
		if ctx.Err() != nil {
			l.setState(false, errors.New("stopped"))
			return
		}
		l.setState(false, err)
		if listened {
			backoff = l.cfg.BackoffMin
		}
		l.cfg.Logger.Warn("event listener disconnected; reconnecting", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			l.setState(false, errors.New("stopped"))
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, l.cfg.BackoffMax)
	}
}

// session connects, listens and relays notifications until the connection
// fails. listened reports whether LISTEN succeeded.
func (l *Listener) session(ctx context.Context) (listened bool, err error) {
	cfg, err := pgx.ParseConfig(l.url)
	if err != nil {
		return false, err
	}
	cfg.RuntimeParams["application_name"] = l.cfg.ApplicationName
	// TCP keep-alives notice a peer that vanished without closing.
	cfg.DialFunc = (&net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3,
	}}).DialContext
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return false, err
	}
	l.setState(true, nil)
	// Anything committed while no listener was active is read now.
	l.relay.CatchUp()
	for {
		wctx, cancel := context.WithTimeout(ctx, l.cfg.CheckInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			id, perr := strconv.ParseInt(n.Payload, 10, 64)
			if perr != nil {
				l.relay.CatchUp()
			} else {
				l.relay.Notify(id)
			}
		case ctx.Err() != nil:
			return true, ctx.Err()
		case wctx.Err() != nil && !conn.IsClosed():
			// Quiet for a while: check the connection still answers.
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("listener connection check: %w", err)
			}
		default:
			return true, err
		}
	}
}
