// Package scalar holds the custom GraphQL scalars: opaque UUID IDs and
// calendar dates.
package scalar

import (
	"entgo.io/contrib/entgql"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"passerelle/apperr"
)

// MarshalID writes a UUID as a GraphQL ID.
func MarshalID(u uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(u.String()))
	})
}

// ErrBadID is returned for an ID that is not one of ours.
var ErrBadID = apperr.New(apperr.BadUserInput, "malformed ID")

// UnmarshalID reads a GraphQL ID into a UUID.
func UnmarshalID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, ErrBadID
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, ErrBadID
	}
	return u, nil
}

// DateLayout is the wire format of the Date scalar.
const DateLayout = time.DateOnly

// MarshalDate writes a calendar date (YYYY-MM-DD, UTC).
func MarshalDate(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(DateLayout)))
	})
}

// UnmarshalDate reads YYYY-MM-DD as midnight UTC.
func UnmarshalDate(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, apperr.New(apperr.BadUserInput, "a Date must be a string YYYY-MM-DD")
	}
	t, err := time.ParseInLocation(DateLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, apperr.New(apperr.BadUserInput, "%q is not a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

// MarshalCursor writes an opaque cursor (list position or event position).
func MarshalCursor(c entgql.Cursor[uuid.UUID]) graphql.Marshaler { return c }

// UnmarshalCursor reads a cursor; anything that is not one of ours is a
// BAD_USER_INPUT, not an internal error. The msgpack decoder under
// entgql's cursor panics on some crafted inputs (found by
// FuzzUnmarshalCursor: "g8A0oXY0oXY0"): those are malformed cursors too.
func UnmarshalCursor(v any) (c entgql.Cursor[uuid.UUID], err error) {
	malformed := apperr.New(apperr.BadUserInput, "malformed cursor")
	defer func() {
		if recover() != nil {
			c, err = entgql.Cursor[uuid.UUID]{}, malformed
		}
	}()
	if err := c.UnmarshalGQL(v); err != nil {
		return entgql.Cursor[uuid.UUID]{}, malformed
	}
	return c, nil
}
