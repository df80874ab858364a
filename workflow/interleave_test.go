package workflow

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"passerelle/ent"
	"passerelle/enums"
)

// TestChangeBetweenReadAndWrite: between an operation's reads and its
// first write, no other change of the same request can commit. The case:
// a unit revises its refusal into an acceptance (the life cycle allows it
// until confirmation) while the requesting side confirms another unit. Had
// the confirmation come in between, the revision — decided on a request
// still SENT — would have left an accepted dispatch beside the confirmed
// one. On PostgreSQL the operation has locked the request row when it read
// it (a NOWAIT lock of the row fails); on SQLite its transaction holds the
// write lock from its start (another BEGIN IMMEDIATE is refused). Either
// way the confirmation comes after, and withdraws the revised dispatch.
func TestChangeBetweenReadAndWrite(t *testing.T) {
	f := newFixture(t)
	perine, garnier := f.unitID("USP Sainte-Périne"), f.unitID("Maison médicale Jeanne Garnier")
	id := f.ready("Entre-deux")
	sent, err := f.svc.Send(f.as(prescriber), id, []uuid.UUID{perine, garnier})
	f.must(sent, err)
	dP, dG := f.dispatchTo(sent, perine), f.dispatchTo(sent, garnier)
	reason := enums.RefusalReasonNoBedInTime
	f.must(f.svc.Answer(f.as(perineDoctor), dP, AnswerInput{Decision: enums.AnswerDecisionRefuse, RefusalReason: &reason}))
	f.must(f.svc.Answer(f.as(garnierDoc), dG, AnswerInput{Decision: enums.AnswerDecisionAccept}))

	// meanwhile runs once, inside the revision, after its reads and before
	// its first write, and tries to change the request.
	var meanwhile func()
	if f.db.Dialect == dialect.Postgres {
		meanwhile = func() {
			_, err := f.db.SQL.Exec(`SELECT id FROM admission_requests WHERE id = $1 FOR UPDATE NOWAIT`, id)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "55P03" {
				t.Errorf("another transaction could lock the request the operation had read: %v", err)
			}
		}
	} else {
		file, _, _ := strings.Cut(f.db.Where, "?")
		other, err := sql.Open("sqlite3", file+"?_txlock=immediate&_busy_timeout=0")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		meanwhile = func() {
			tx, err := other.Begin()
			if err == nil {
				_ = tx.Rollback()
			}
			var se sqlite3.Error
			if !errors.As(err, &se) || se.Code != sqlite3.ErrBusy {
				t.Errorf("another transaction could begin writing while the operation was deciding: %v", err)
			}
		}
	}
	var armed atomic.Bool
	f.db.Client.Dispatch.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if armed.CompareAndSwap(true, false) {
				meanwhile()
			}
			return next.Mutate(ctx, m)
		})
	})
	armed.Store(true)
	f.must(f.svc.Answer(f.as(perineDoctor), dP, AnswerInput{Decision: enums.AnswerDecisionAccept}))
	if armed.Load() {
		t.Fatal("the revision wrote no dispatch")
	}

	f.must(f.svc.Confirm(f.as(prescriber), dG))
	status := func(id uuid.UUID) enums.DispatchStatus { return f.db.Client.Dispatch.GetX(f.sys, id).Status }
	if s := status(dP); s != enums.DispatchStatusWithdrawn {
		t.Fatalf("the revised dispatch is %s after the confirmation of the other unit, want WITHDRAWN", s)
	}
	if s := status(dG); s != enums.DispatchStatusConfirmed {
		t.Fatalf("the confirmed dispatch is %s", s)
	}
}
