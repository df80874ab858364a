package ent

// Dialect is the SQL dialect of the client's driver (dialect.SQLite,
// dialect.Postgres), for statements built once with ent's SQL builder
// (auth.Service). Hand-written: ent generates no such accessor.
func (c *Client) Dialect() string { return c.driver.Dialect() }
