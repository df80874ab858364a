// Package scalar holds the custom GraphQL scalars: opaque UUID IDs and
// calendar dates.
package scalar

import (
	"encoding/base64"
	"encoding/binary"
	"io"
	"strconv"
	"time"

	"entgo.io/contrib/entgql"
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
// The cursors of the connections ordered by one time column (a key and
// []any{time}) are written here, byte for byte as entgql writes them
// (msgpack, unpadded base64) without its encoder's allocations and
// reflection: a twentieth of an inbox page's CPU went there. Any other
// cursor is entgql's.
func MarshalCursor(c entgql.Cursor[uuid.UUID]) graphql.Marshaler {
	switch v := c.Value.(type) {
	case []any:
		if len(v) != 1 {
			break
		}
		if t, ok := v[0].(time.Time); ok {
			return graphql.WriterFunc(func(w io.Writer) { _, _ = w.Write(appendTimeCursor(nil, c.ID, t)) })
		}
	case int64:
		// An event's position in the log (live events, their replay);
		// entgql leaves a zero out (omitempty).
		if v != 0 {
			return graphql.WriterFunc(func(w io.Writer) { _, _ = w.Write(appendInt64Cursor(nil, c.ID, v)) })
		}
	}
	return c
}

// appendInt64Cursor appends, quoted, the cursor {ID: id, Value: n} as
// entgql writes it (msgpack writes an int64 in full: 0xd3 and 8 bytes).
func appendInt64Cursor(b []byte, id uuid.UUID, n int64) []byte {
	var raw [1 + 2 + 2 + 16 + 2 + 9]byte
	m := append(raw[:0], 0x82, 0xa1, 'i', 0xc4, 16)
	m = append(m, id[:]...)
	m = append(m, 0xa1, 'v', 0xd3)
	m = binary.BigEndian.AppendUint64(m, uint64(n))
	return quotedBase64(b, m)
}

// appendTimeCursor appends, quoted, the cursor {ID: id, Value: []any{t}}
// as entgql.Cursor.MarshalGQL writes it.
func appendTimeCursor(b []byte, id uuid.UUID, t time.Time) []byte {
	// msgpack of the struct as a map: {"i": bin(16), "v": [timestamp]}.
	var raw [2 + 2 + 18 + 2 + 1 + 15]byte
	m := append(raw[:0], 0x82, 0xa1, 'i', 0xc4, 16)
	m = append(m, id[:]...)
	m = append(m, 0xa1, 'v', 0x91)
	// The timestamp extension (type -1) in its 32-, 64- or 96-bit form.
	secs := uint64(t.Unix())
	switch data := uint64(t.Nanosecond())<<34 | secs; {
	case secs>>34 == 0 && data&0xffffffff00000000 == 0:
		m = append(m, 0xd6, 0xff)
		m = binary.BigEndian.AppendUint32(m, uint32(data))
	case secs>>34 == 0:
		m = append(m, 0xd7, 0xff)
		m = binary.BigEndian.AppendUint64(m, data)
	default:
		m = append(m, 0xc7, 12, 0xff)
		m = binary.BigEndian.AppendUint32(m, uint32(t.Nanosecond()))
		m = binary.BigEndian.AppendUint64(m, secs)
	}
	return quotedBase64(b, m)
}

// quotedBase64 appends m in unpadded base64 between quotes.
func quotedBase64(b, m []byte) []byte {
	b = append(b, '"')
	b = base64.RawStdEncoding.AppendEncode(b, m)
	return append(b, '"')
}

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
