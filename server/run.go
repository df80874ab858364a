package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

const shutdownTimeout = 10 * time.Second

// Run listens on addr (e.g. "127.0.0.1:8080", or "127.0.0.1:0" for any free
// port) and serves h until ctx is done; see Serve.
func Run(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, h, logger)
}

// Serve serves h on ln until ctx is done, then shuts down gracefully within
// 10 seconds: it stops accepting connections, ends websocket connections
// (close 1001 "server shutting down") and SSE streams started by a handler
// of this package (clients resume with their cursor), and waits for
// in-flight requests. It logs the address it listens on. It returns nil after
// a clean shutdown.
//
// The http.Server has ReadHeaderTimeout 10s and IdleTimeout 120s, and no
// WriteTimeout, which would cut SSE and websocket streams.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	drainCtx, startDrain := context.WithCancel(context.Background())
	defer startDrain()
	d := &drainer{ctx: drainCtx}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context {
			// Requests keep ctx's values but not its cancellation: shutting
			// down must let in-flight mutations finish.
			return context.WithValue(context.WithoutCancel(ctx), drainKey{}, d)
		},
	}
	logger.Info("listening", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	startDrain()
	err := srv.Shutdown(sctx)
	if werr := d.wait(sctx); err == nil && werr != nil {
		err = fmt.Errorf("websocket connections still open: %w", werr)
	}
	if err != nil {
		_ = srv.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

type drainKey struct{}

// drainer ends long-lived streams (websockets, SSE) when the server shuts
// down, and lets Serve wait for them: http.Server.Shutdown does not wait for
// hijacked connections and would wait for SSE streams until its deadline.
type drainer struct {
	ctx context.Context // done once shutting down

	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0 while someone waits
}

func (d *drainer) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return false
	}
	d.n++
	return true
}

func (d *drainer) leave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n--
	if d.n == 0 && d.idle != nil {
		close(d.idle)
		d.idle = nil
	}
}

func (d *drainer) wait(ctx context.Context) error {
	d.mu.Lock()
	if d.n == 0 {
		d.mu.Unlock()
		return nil
	}
	if d.idle == nil {
		d.idle = make(chan struct{})
	}
	idle := d.idle
	d.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// trackStream returns a context for a long-lived stream that is cancelled
// when the server shuts down (after calling onDrain, if set), and the func
// to call when the stream ends. It returns ok false when the server is
// already shutting down. Outside Serve (e.g. under httptest) the context is
// only cancelled by done.
func trackStream(ctx context.Context, onDrain func()) (_ context.Context, done func(), ok bool) {
	ctx, cancel := context.WithCancel(ctx)
	d, _ := ctx.Value(drainKey{}).(*drainer)
	if d == nil {
		return ctx, cancel, true
	}
	if !d.enter() {
		cancel()
		return nil, nil, false
	}
	stop := context.AfterFunc(d.ctx, func() {
		if onDrain != nil {
			onDrain()
		}
		cancel()
	})
	return ctx, func() {
		stop()
		cancel()
		d.leave()
	}, true
}
