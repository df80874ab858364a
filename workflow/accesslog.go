package workflow

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/viewer"
)

// The access log of medical reads is written by group commit: every
// dashboard page that shows medical sections must leave its rows before it
// is answered (no untraced reading), and on SQLite one transaction per page
// made every read queue for the single writer lock. Concurrent callers now
// put their rows in a queue; one goroutine writes everything queued in one
// transaction, then releases each caller of that batch with the batch's
// outcome. While it writes, the next callers queue up and form the next
// batch, so the number of write transactions follows the database's commit
// rate instead of the number of readers.

const (
	// accessQueueRows bounds the rows waiting for the writer; callers
	// beyond it wait for room (or for their context).
	accessQueueRows = 8192
	// accessChunkRows rows per INSERT: 5 columns each, far below SQLite's
	// 32 766 and PostgreSQL's 65 535 bind parameters.
	accessChunkRows = 1000
)

// accessRow is one access-log row to write.
type accessRow struct {
	user, request uuid.UUID
	kind          string
	at            time.Time
}

// logRequest is one caller's rows and, once its batch is written, the
// batch's outcome.
type logRequest struct {
	rows []accessRow
	done chan struct{} // closed when err is set
	err  error
}

// accessLogger is the group-commit queue. The writer goroutine runs only
// while there is something to write, so an idle service holds none.
type accessLogger struct {
	// write writes rows in one transaction (replaced in tests).
	write     func(ctx context.Context, rows []accessRow) error
	queueRows int

	mu      sync.Mutex
	queue   []*logRequest
	queued  int           // rows in queue
	waiting int           // callers waiting for room
	running bool          // a writer goroutine is on the queue
	closed  bool          // Close was called: callers write directly
	space   chan struct{} // closed when the queue is emptied, for callers waiting for room
	idle    chan struct{} // closed when the running writer stops
}

func newAccessLogger(write func(context.Context, []accessRow) error, queueRows int) *accessLogger {
	return &accessLogger{write: write, queueRows: queueRows}
}

// log queues rows and waits until they are committed, returning the
// outcome of their batch. A caller whose context ends while waiting gets
// the context's error, but rows already queued are still written: they
// record a reading that may have been served.
func (l *accessLogger) log(ctx context.Context, rows []accessRow) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &logRequest{rows: rows, done: make(chan struct{})}
	l.mu.Lock()
	// An empty queue takes any caller, so a page larger than the bound
	// still goes through.
	for !l.closed && l.queued > 0 && l.queued+len(rows) > l.queueRows {
		if l.space == nil {
			l.space = make(chan struct{})
		}
		space := l.space
		l.waiting++
		l.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			l.mu.Lock()
			l.waiting--
			l.mu.Unlock()
			return ctx.Err() // nothing was queued: the read fails
		}
		l.mu.Lock()
		l.waiting--
	}
	if l.closed {
		l.mu.Unlock()
		return l.write(ctx, rows)
	}
	l.queue = append(l.queue, r)
	l.queued += len(rows)
	if !l.running {
		l.running, l.idle = true, make(chan struct{})
		go l.run()
	}
	l.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes batches until the queue is empty.
func (l *accessLogger) run() {
	for {
		l.mu.Lock()
		batch := l.queue
		l.queue, l.queued = nil, 0
		if l.space != nil {
			close(l.space)
			l.space = nil
		}
		if len(batch) == 0 {
			l.running = false
			close(l.idle)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		err := l.flush(batch)
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
	}
}

// flush writes one batch. It runs on its own context: the callers' may
// end while they wait, and their rows must still be written.
func (l *accessLogger) flush(batch []*logRequest) (err error) {
	n := 0
	for _, r := range batch {
		n += len(r.rows)
	}
	rows := make([]accessRow, 0, n)
	for _, r := range batch {
		rows = append(rows, r.rows...)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("writing the access log: %v", p)
		}
	}()
	return l.write(context.Background(), rows)
}

// close stops queueing and waits until everything queued is written.
// Callers after it write their rows themselves.
func (l *accessLogger) close() {
	l.mu.Lock()
	l.closed = true
	if l.space != nil {
		close(l.space)
		l.space = nil
	}
	running, idle := l.running, l.idle
	l.mu.Unlock()
	if running {
		<-idle
	}
}

// writeAccessRows inserts rows in one transaction: a single multi-row
// INSERT when they fit in one chunk (a statement is its own transaction),
// else the chunks inside one explicit transaction.
func (s *Service) writeAccessRows(ctx context.Context, rows []accessRow) error {
	ctx = viewer.AllowWrites(ctx)
	insert := func(c *ent.AccessLogClient, chunk []accessRow) error {
		b := make([]*ent.AccessLogCreate, len(chunk))
		for i, r := range chunk {
			b[i] = c.Create().SetUserID(r.user).SetRequestID(r.request).SetKind(r.kind).SetAccessedAt(r.at)
		}
		return c.CreateBulk(b...).Exec(ctx)
	}
	if len(rows) <= accessChunkRows {
		return insert(s.client.AccessLog, rows)
	}
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return err
	}
	for start := 0; start < len(rows); start += accessChunkRows {
		if err := insert(tx.AccessLog, rows[start:min(start+accessChunkRows, len(rows))]); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// LogMedicalRead traces readings of medical sections (one row per request).
// It returns once the rows are committed, with the error of the write that
// carried them: a reading that cannot be traced must fail.
func (s *Service) LogMedicalRead(ctx context.Context, requestIDs []uuid.UUID) error {
	v := viewer.FromContext(ctx)
	if v == nil || len(requestIDs) == 0 {
		return nil
	}
	now := s.now()
	rows := make([]accessRow, len(requestIDs))
	for i, id := range requestIDs {
		rows[i] = accessRow{user: v.UserID, request: id, kind: AccessMedicalRead, at: now}
	}
	return s.access.log(ctx, rows)
}

// Close stops archiving (StartArchiving), then writes the access-log rows
// still queued and waits for them; later medical reads are logged by their
// caller directly. Call it before closing the database.
func (s *Service) Close() {
	s.stopArchiving()
	s.access.close()
}
