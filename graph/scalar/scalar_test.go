package scalar

import (
	"bytes"
	"strconv"
	"testing"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"

	"passerelle/apperr"
)

// FuzzUnmarshalCursor: any string is either a cursor that marshals back to
// itself or a BAD_USER_INPUT, never a panic nor another kind of error.
func FuzzUnmarshalCursor(f *testing.F) {
	var buf bytes.Buffer
	MarshalCursor(entgql.Cursor[uuid.UUID]{ID: uuid.New()}).MarshalGQL(&buf)
	valid, _ := strconv.Unquote(buf.String())
	buf.Reset()
	MarshalCursor(entgql.Cursor[uuid.UUID]{Value: int64(42)}).MarshalGQL(&buf)
	event, _ := strconv.Unquote(buf.String())
	for _, s := range []string{valid, event, "", "x", "gaFp", "////", valid[:len(valid)/2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := UnmarshalCursor(s)
		if err != nil {
			if apperr.From(err).Code != apperr.BadUserInput {
				t.Fatalf("%q: %v is not BAD_USER_INPUT", s, err)
			}
			return
		}
		var out bytes.Buffer
		MarshalCursor(c).MarshalGQL(&out)
		again, err := UnmarshalCursor(mustUnquote(t, out.String()))
		if err != nil || again.ID != c.ID {
			t.Fatalf("%q does not round-trip: %v %v", s, again, err)
		}
	})
}

func mustUnquote(t *testing.T, s string) string {
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUnmarshalIDAndDate(t *testing.T) {
	if _, err := UnmarshalID("not-a-uuid"); apperr.From(err).Code != apperr.BadUserInput {
		t.Fatalf("bad id: %v", err)
	}
	id := uuid.New()
	if got, err := UnmarshalID(id.String()); err != nil || got != id {
		t.Fatalf("good id: %v %v", got, err)
	}
	if _, err := UnmarshalDate("2026-02-30"); apperr.From(err).Code != apperr.BadUserInput {
		t.Fatalf("bad date: %v", err)
	}
	if d, err := UnmarshalDate("2026-02-28"); err != nil || d.Day() != 28 {
		t.Fatalf("good date: %v %v", d, err)
	}
}
