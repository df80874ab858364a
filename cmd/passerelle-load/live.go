package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"
)

// unitEventsDoc is the contract's unit subscription, reduced to what the
// cross-instance check compares.
const unitEventsDoc = `subscription UnitEvents($unitId: ID!) {
  unitEvents(unitId: $unitId) { cursor type }
}`

// liveWatch follows one unit's live events with one subscriber on every
// instance (Server-Sent Events) while S3 writes through one instance, then
// through all of them: whichever instance committed an event, every
// subscriber must receive it, once, in order.
type liveWatch struct {
	unit   uuid.UUID
	from   int64 // the last event id before the watch
	subs   []*sseSub
	cancel context.CancelFunc
}

// sseSub collects the event ids one subscription delivered.
type sseSub struct {
	mu   sync.Mutex
	ids  []int64
	err  error
	done chan struct{}
}

func (s *sseSub) snapshot() ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.ids...), s.err
}

// watchLive subscribes to the first accepting unit's events on every
// instance, as that unit's receiving physician.
func (t *target) watchLive(ctx context.Context) (*liveWatch, error) {
	unit := t.units[0]
	w := &liveWatch{unit: unit}
	if err := t.app.DB.SQL.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&w.from); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	// No client timeout: the stream lasts the whole scenario.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	body := gqlBody(unitEventsDoc, "UnitEvents", map[string]any{"unitId": unit})
	for i, u := range t.urls() {
		req, err := http.NewRequestWithContext(sctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			cancel()
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+t.receivers[unit].token)
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("live watch on instance %d: %w", i+1, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			cancel()
			return nil, fmt.Errorf("live watch on instance %d: HTTP %d", i+1, resp.StatusCode)
		}
		s := &sseSub{done: make(chan struct{})}
		w.subs = append(w.subs, s)
		go func() {
			defer close(s.done)
			defer resp.Body.Close()
			err := readSSE(resp, func(data []byte) error {
				var m struct {
					Data struct {
						UnitEvents struct{ Cursor string } `json:"unitEvents"`
					} `json:"data"`
					Errors []json.RawMessage `json:"errors"`
				}
				if err := json.Unmarshal(data, &m); err != nil {
					return err
				}
				if len(m.Errors) > 0 {
					return fmt.Errorf("subscription error: %s", m.Errors[0])
				}
				id := eventCursorID(m.Data.UnitEvents.Cursor)
				s.mu.Lock()
				s.ids = append(s.ids, id)
				s.mu.Unlock()
				return nil
			})
			if sctx.Err() == nil {
				s.mu.Lock()
				s.err = fmt.Errorf("stream ended: %v", err)
				s.mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let the subscriptions register
	fmt.Printf("S3: live check: one unitEvents subscriber (SSE) per instance on unit %s\n", unit)
	return w, nil
}

// readSSE calls fn with the data of every "next" event of the stream.
func readSSE(resp *http.Response, fn func([]byte) error) error {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
			if event == "complete" {
				return fmt.Errorf("complete")
			}
		case strings.HasPrefix(line, "data: ") && event == "next":
			if err := fn([]byte(strings.TrimPrefix(line, "data: "))); err != nil {
				return err
			}
		case line == "":
			event = ""
		}
	}
	return sc.Err()
}

// eventCursorID is the event id behind an event cursor (-1 if unreadable).
func eventCursorID(s string) int64 {
	var c entgql.Cursor[uuid.UUID]
	if err := c.UnmarshalGQL(s); err != nil {
		return -1
	}
	var id int64
	if _, err := fmt.Sscan(fmt.Sprint(c.Value), &id); err != nil {
		return -1
	}
	return id
}

// liveOutcome compares what each subscriber received with the events the
// database holds for the unit.
type liveOutcome struct {
	want                 int     // events of the unit committed during the watch
	got                  []int   // events received, per subscriber
	missing, dup, disord []int   // per subscriber
	same                 bool    // every subscriber received the same sequence
	errs                 []error // per subscriber
}

func compareLive(want []int64, got [][]int64, errs []error) liveOutcome {
	o := liveOutcome{want: len(want), same: true, errs: errs}
	for i, ids := range got {
		seen := map[int64]bool{}
		dup, disord := 0, 0
		for k, id := range ids {
			if seen[id] {
				dup++
			}
			seen[id] = true
			if k > 0 && id <= ids[k-1] {
				disord++
			}
		}
		missing := 0
		for _, id := range want {
			if !seen[id] {
				missing++
			}
		}
		o.got = append(o.got, len(ids))
		o.missing = append(o.missing, missing)
		o.dup = append(o.dup, dup)
		o.disord = append(o.disord, disord)
		if i > 0 && !slicesEqual(ids, got[0]) {
			o.same = false
		}
	}
	return o
}

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (o liveOutcome) ok() bool {
	for i := range o.got {
		if o.missing[i] > 0 || o.dup[i] > 0 || o.disord[i] > 0 || o.errs[i] != nil {
			return false
		}
	}
	return o.same && o.want > 0
}

// report waits (at most 10 s) for every subscriber to hold every event of
// the unit committed since the watch began, then prints the comparison and
// ends the subscriptions.
func (w *liveWatch) report(ctx context.Context, t *target) {
	defer func() {
		w.cancel()
		for _, s := range w.subs {
			<-s.done
		}
	}()
	var want []int64
	rows, err := t.app.DB.SQL.QueryContext(ctx, t.rebind(`SELECT id FROM events WHERE unit_id = ? AND id > ? ORDER BY id`), w.unit, w.from)
	if err != nil {
		fmt.Printf("S3: live check: %v\n", err)
		return
	}
	for rows.Next() {
		var id int64
		if rows.Scan(&id) == nil {
			want = append(want, id)
		}
	}
	rows.Close()
	var o liveOutcome
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := make([][]int64, len(w.subs))
		errs := make([]error, len(w.subs))
		for i, s := range w.subs {
			got[i], errs[i] = s.snapshot()
		}
		o = compareLive(want, got, errs)
		if o.ok() || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	verdict := "every subscriber received every event once, in order, the same sequence"
	if !o.ok() {
		verdict = "**FAILED**"
	}
	fmt.Printf("S3: live check: %d events of the unit committed during S3 (all contenders); ", o.want)
	for i := range o.got {
		fmt.Printf("instance %d received %d (missing %d, duplicates %d, out of order %d", i+1, o.got[i], o.missing[i], o.dup[i], o.disord[i])
		if o.errs[i] != nil {
			fmt.Printf(", %v", o.errs[i])
		}
		fmt.Print("); ")
	}
	fmt.Printf("same sequence on all: %v: %s\n", o.same, verdict)
}

// rebind rewrites ? placeholders for the target's dialect.
func (t *target) rebind(q string) string { return rebind(t.dialect == "postgres", q) }
