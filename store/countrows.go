package store

import (
	"context"
	stdsql "database/sql"
	"errors"
	"regexp"
	"strings"

	"entgo.io/ent/dialect"
)

// countRows sends ent's row counts as COUNT(*). ent counts the rows of a
// query as COUNT(<table>.<id>); the primary key of the table in FROM is never
// NULL, so COUNT(*) counts the same rows — and SQLite does it by counting
// index entries instead of reading the key out of each: a unit's inbox
// count over 20 000 dispatches takes 31 % less time (BenchmarkInboxCount,
// benchstat n=6, p=0.002; docs/performance.md).
type countRows struct{ dialect.Driver }

// countByKey is ent's count over the key of the table it selects from,
// quoted for SQLite (`) or PostgreSQL ("). COUNT(DISTINCT …) does not match.
var countByKey = regexp.MustCompile("^SELECT COUNT\\(([`\"])(\\w+)[`\"]\\.[`\"]id[`\"]\\) FROM [`\"](\\w+)[`\"]")

// countStar rewrites ent's count over the FROM table's key as COUNT(*), and
// returns any other statement unchanged. A right or full join could add rows
// where that key is NULL: those are left alone.
func countStar(query string) string {
	m := countByKey.FindStringSubmatchIndex(query)
	if m == nil || query[m[4]:m[5]] != query[m[6]:m[7]] {
		return query
	}
	rest := query[m[1]:]
	if up := strings.ToUpper(rest); strings.Contains(up, " RIGHT ") || strings.Contains(up, " FULL ") {
		return query
	}
	q := query[m[2]:m[3]]
	return "SELECT COUNT(*) FROM " + q + query[m[6]:m[7]] + q + rest
}

func (d countRows) Query(ctx context.Context, query string, args, v any) error {
	return d.Driver.Query(ctx, countStar(query), args, v)
}

func (d countRows) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return countRowsTx{tx}, nil
}

// BeginTx keeps the transaction options (isolation, read-only) that ent
// passes through drivers that have it.
func (d countRows) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *stdsql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return d.Tx(ctx)
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countRowsTx{tx}, nil
}

type countRowsTx struct{ dialect.Tx }

func (t countRowsTx) Query(ctx context.Context, query string, args, v any) error {
	return t.Tx.Query(ctx, countStar(query), args, v)
}

// Raw statements (ent's ExecContext and QueryContext, used by the
// statistics' aggregates and the migrations) pass through as written.

type rawQuerier interface {
	QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	ExecContext(context.Context, string, ...any) (stdsql.Result, error)
}

func (d countRows) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	return rawOf(d.Driver).QueryContext(ctx, query, args...)
}

func (d countRows) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	return rawOf(d.Driver).ExecContext(ctx, query, args...)
}

func (t countRowsTx) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	return rawOf(t.Tx).QueryContext(ctx, query, args...)
}

func (t countRowsTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	return rawOf(t.Tx).ExecContext(ctx, query, args...)
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
