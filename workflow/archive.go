package workflow

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"entgo.io/ent/dialect/sql"

	"passerelle/ent"
	"passerelle/ent/admissionrequest"
	"passerelle/enums"
	"passerelle/viewer"
)

// DefaultArchiveAfter is how long an admitted or cancelled request stays as
// it is before it is archived (the domain's default: 30 days).
const DefaultArchiveAfter = 30 * 24 * time.Hour

// DefaultArchiveBatch is how many requests one archiving transaction moves:
// on SQLite each batch holds the one writer's lock for a few milliseconds,
// so the users' changes pass between two batches.
const DefaultArchiveBatch = 200

// ArchiveDue archives the requests admitted or cancelled more than after
// ago: each becomes ARCHIVED (RequestTable's system-only ARCHIVE step) with
// its archived_at and a REQUEST_ARCHIVED event without actor, batch requests
// per transaction until none is due. It returns how many it archived, also
// when it stops on an error or when ctx ends between two batches.
//
// Several instances may run it at once: on PostgreSQL a batch locks its rows
// and skips those another instance holds; on SQLite a batch holds the
// database. The statistics read the admission and cancellation times, which
// archiving keeps, so they do not change.
func (s *Service) ArchiveDue(ctx context.Context, after time.Duration, batch int) (int, error) {
	if after <= 0 {
		return 0, errors.New("archiving needs a positive delay")
	}
	if batch <= 0 {
		batch = DefaultArchiveBatch
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, more, err := s.archiveBatch(ctx, after, batch)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// archiveBatch archives up to batch due requests in one transaction and
// says whether more may be due.
func (s *Service) archiveBatch(ctx context.Context, after time.Duration, batch int) (n int, more bool, err error) {
	sys := viewer.System(ctx)
	err = s.apply(sys, viewer.AllowWrites(sys), nil, func(o *op) error {
		cutoff := o.now.Add(-after)
		q := o.tx.AdmissionRequest.Query().Where(admissionrequest.Or(
			admissionrequest.And(admissionrequest.StatusEQ(enums.RequestStatusAdmitted), admissionrequest.AdmittedAtLTE(cutoff)),
			admissionrequest.And(admissionrequest.StatusEQ(enums.RequestStatusCancelled), admissionrequest.CancelledAtLTE(cutoff)),
		)).Order(admissionrequest.ByID()).Limit(batch).
			Select(admissionrequest.FieldID, admissionrequest.FieldStatus, admissionrequest.FieldVersion)
		if o.lockRows {
			q.ForUpdate(sql.WithLockAction(sql.SkipLocked))
		}
		due, err := q.All(o.ctx)
		if err != nil {
			return err
		}
		more = len(due) == batch
		for _, req := range due {
			if err := o.archive(req); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return n, more, nil
}

// archive moves one request to ARCHIVED and records it.
func (o *op) archive(req *ent.AdmissionRequest) error {
	from := req.Status
	t, err := o.stepRequest(req, ActArchive, func(u *ent.AdmissionRequestUpdate) { u.SetArchivedAt(o.now) })
	if err != nil {
		return err
	}
	return o.record(eventSpec{typ: enums.EventTypeRequestArchived, request: req.ID, from: string(from), to: string(t.To)})
}

// DefaultArchiveInterval separates two archiving passes.
const DefaultArchiveInterval = time.Hour

// ArchiveConfig schedules archiving (StartArchiving).
type ArchiveConfig struct {
	// After is the delay after admission or cancellation; zero or less
	// turns archiving off.
	After time.Duration
	// Interval separates two passes (default DefaultArchiveInterval).
	Interval time.Duration
	// Batch is how many requests one transaction archives (default
	// DefaultArchiveBatch).
	Batch  int
	Logger *slog.Logger
}

// StartArchiving runs ArchiveDue in the background: a first pass at once
// (a database that was stopped for a while catches up), then one every
// Interval, until Close. A failed pass is logged and the next one retries.
func (s *Service) StartArchiving(cfg ArchiveConfig) {
	if cfg.After <= 0 {
		return
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultArchiveInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.stopArchiving() // started again: the new settings replace the old
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.archiving.Lock()
	s.archiving.stop = func() { cancel(); <-done }
	s.archiving.Unlock()
	go func() {
		defer close(done)
		next := time.NewTimer(0)
		defer next.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-next.C:
			}
			start := time.Now()
			n, err := s.ArchiveDue(ctx, cfg.After, cfg.Batch)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("archiving stopped early; the next pass retries", "archived", n, "error", err, "retry_in", cfg.Interval)
			case n > 0:
				log.Info("requests archived", "count", n, "after", cfg.After, "took", time.Since(start).Round(time.Millisecond))
			}
			next.Reset(cfg.Interval)
		}
	}()
}

// stopArchiving stops the background archiving and waits for its pass.
func (s *Service) stopArchiving() {
	s.archiving.Lock()
	stop := s.archiving.stop
	s.archiving.stop = nil
	s.archiving.Unlock()
	if stop != nil {
		stop()
	}
}
