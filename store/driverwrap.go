package store

import (
	"context"
	stdsql "database/sql"
	"errors"

	"entgo.io/ent/dialect"
)

// What the store's driver wrappers (countRows, writeGate) share: beginning a
// transaction with the options ent passes, and letting raw statements
// (ent's ExecContext and QueryContext, used by the statistics' aggregates and
// the migrations) through as written.

// beginTx begins a transaction on d, with opts when d takes them.
func beginTx(ctx context.Context, d dialect.Driver, opts *stdsql.TxOptions) (dialect.Tx, error) {
	if b, ok := d.(interface {
		BeginTx(context.Context, *stdsql.TxOptions) (dialect.Tx, error)
	}); ok {
		return b.BeginTx(ctx, opts)
	}
	return d.Tx(ctx)
}

// raw runs raw statements on what a wrapper wraps (a driver or a
// transaction); embedded, it gives the wrapper ent's ExecContext and
// QueryContext.
type raw struct{ under any }

func (r raw) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	return rawOf(r.under).QueryContext(ctx, query, args...)
}

func (r raw) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	return rawOf(r.under).ExecContext(ctx, query, args...)
}

type rawQuerier interface {
	QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	ExecContext(context.Context, string, ...any) (stdsql.Result, error)
}

// rawOf returns what runs raw statements under d: ent's SQL driver and its
// transactions, and its debug wrappers, all have both methods.
func rawOf(d any) rawQuerier {
	if r, ok := d.(rawQuerier); ok {
		return r
	}
	return unsupported{}
}

type unsupported struct{}

var errRawUnsupported = errors.New("store: the driver runs no raw statements")

func (unsupported) QueryContext(context.Context, string, ...any) (*stdsql.Rows, error) {
	return nil, errRawUnsupported
}

func (unsupported) ExecContext(context.Context, string, ...any) (stdsql.Result, error) {
	return nil, errRawUnsupported
}
