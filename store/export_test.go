package store

import (
	"context"
	"database/sql"

	atlas "ariga.io/atlas/sql/schema"
)

// What the external tests of this package reach inside it.

// NewMigration is a migration made of stmts.
func NewMigration(version, description string, stmts ...string) Migration {
	return Migration{Version: version, Description: description, stmts: stmts}
}

// IndexOnly is indexOnly of m's statements.
func IndexOnly(m Migration) bool { return indexOnly(m.stmts) }

// Statements are m's statements.
func Statements(m Migration) []string { return m.stmts }

// Apply is apply.
func (d *DB) Apply(ctx context.Context, conn *sql.Conn, m Migration) (bool, error) {
	return d.apply(ctx, conn, m)
}

// AuditDSN is auditDSN.
func AuditDSN(dsn string) string { return auditDSN(dsn) }

// AuditTables is auditTables.
func (d *DB) AuditTables(ctx context.Context) ([]*atlas.Table, error) { return d.auditTables(ctx) }
