package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// clientCommand is the hidden subcommand of the load client.
const clientCommand = "subscriptions-client"

// clientSpec is what the orchestrator sends the client on its stdin.
type clientSpec struct {
	URL     string           `json:"url"`     // ws://127.0.0.1:port/graphql
	Tokens  []string         `json:"tokens"`  // used in turn by the connections
	PerConn int              `json:"perConn"` // subscriptions per connection
	Query   string           `json:"query"`
	OpName  string           `json:"opName"`
	Vars    []map[string]any `json:"vars"` // one per subscription
}

// Lines the client writes on its stdout:
//
//	OPENED <connections> <subscriptions>   every subscribe message was sent
//	D <cursor> <latency ns>                an event delivered (now − occurredAt)
//	E <id> <type> <payload>                a subscription ended (error/complete)
//	X <error>                              a connection failed
//
// It closes every connection and exits when its stdin reaches EOF.

func runClient(ctx context.Context) error {
	raiseFileLimit()
	in := bufio.NewReader(os.Stdin)
	var spec clientSpec
	if err := json.NewDecoder(in).Decode(&spec); err != nil {
		return fmt.Errorf("reading the client spec: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	lines := make(chan string, 1<<16)
	wrote := make(chan struct{})
	go func() { // one writer, flushing whenever it has nothing queued
		defer close(wrote)
		w := bufio.NewWriterSize(os.Stdout, 1<<16)
		for l := range lines {
			w.WriteString(l)
			if len(lines) == 0 {
				w.Flush()
			}
		}
		w.Flush()
	}()

	n := len(spec.Vars)
	per := max(spec.PerConn, 1)
	nconns := (n + per - 1) / per
	conns := make([]*websocket.Conn, nconns)
	var readers sync.WaitGroup
	sem := make(chan struct{}, 32) // dial 32 at a time
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range nconns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dialInit(ctx, spec.URL, spec.Tokens[i%len(spec.Tokens)])
			if err == nil {
				conns[i] = c
				readers.Go(func() { readConn(ctx, c, lines) })
				for s := i * per; s < min(n, (i+1)*per) && err == nil; s++ {
					err = writeJSON(ctx, c, map[string]any{"id": strconv.Itoa(s), "type": "subscribe",
						"payload": map[string]any{"query": spec.Query, "operationName": spec.OpName, "variables": spec.Vars[s]}})
				}
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		lines <- "X " + firstErr.Error() + "\n"
	} else {
		lines <- fmt.Sprintf("OPENED %d %d\n", nconns, n)
	}

	_, _ = io.Copy(io.Discard, in) // until the orchestrator closes our stdin
	closing.Store(true)
	var closed sync.WaitGroup
	for _, c := range conns {
		if c != nil {
			closed.Go(func() { _ = c.Close(websocket.StatusNormalClosure, "done") })
		}
	}
	closed.Wait()
	cancel()
	readers.Wait()
	close(lines)
	<-wrote
	return nil
}

// closing is set once the client started closing its connections.
var closing atomic.Bool

// dialInit opens a graphql-transport-ws connection and authenticates it.
func dialInit(ctx context.Context, url, token string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	if err := writeJSON(dctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		c.CloseNow()
		return nil, err
	}
	for {
		_, b, err := c.Read(dctx)
		if err != nil {
			c.CloseNow()
			return nil, err
		}
		var m struct{ Type string }
		_ = json.Unmarshal(b, &m)
		switch m.Type {
		case "connection_ack":
			return c, nil
		case "ping":
			if err := writeJSON(dctx, c, map[string]any{"type": "pong"}); err != nil {
				c.CloseNow()
				return nil, err
			}
		}
	}
}

func writeJSON(ctx context.Context, c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, b)
}

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

type eventPayload struct {
	Data map[string]struct {
		Cursor     string    `json:"cursor"`
		OccurredAt time.Time `json:"occurredAt"`
	} `json:"data"`
	Errors []json.RawMessage `json:"errors"`
}

// readConn reports what one connection receives, answering pings.
func readConn(ctx context.Context, c *websocket.Conn, lines chan<- string) {
	for {
		_, b, err := c.Read(ctx)
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil && !closing.Load() && websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				lines <- "X " + err.Error() + "\n"
			}
			return
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			lines <- "X bad message\n"
			continue
		}
		switch m.Type {
		case "ping":
			_ = writeJSON(ctx, c, map[string]any{"type": "pong"})
		case "next":
			var p eventPayload
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
				lines <- fmt.Sprintf("E %s next %s\n", m.ID, m.Payload)
				continue
			}
			for _, ev := range p.Data {
				lines <- fmt.Sprintf("D %s %d\n", ev.Cursor, now.Sub(ev.OccurredAt).Nanoseconds())
			}
		case "error", "complete":
			lines <- fmt.Sprintf("E %s %s %s\n", m.ID, m.Type, m.Payload)
		}
	}
}
