package scalar

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

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

// The list and event cursors are written byte for byte as entgql writes
// them: the times in the three forms of msgpack's timestamp (32-bit: whole
// seconds before 2106; 64-bit: with nanoseconds before 2514; 96-bit: the
// rest, before 1970 included), read back by entgql; the event positions;
// and every other cursor through entgql itself.
func TestCursorsAsEntgql(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	times := []time.Time{
		time.Unix(0, 0), time.Unix(1, 0), time.Unix(1<<32-1, 0), time.Unix(1<<32, 0), time.Unix(1<<34-1, 999_999_999),
		time.Unix(1<<34, 0), time.Unix(-1, 0), time.Unix(-62135596800, 0), time.Date(2026, 11, 26, 4, 30, 0, 123456789, time.UTC),
		time.Date(2026, 11, 26, 5, 30, 0, 1, time.FixedZone("Paris", 3600)), {},
	}
	for range 2000 {
		times = append(times, time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1_000_000_000)*int64(rng.IntN(2))))
	}
	for _, at := range times {
		id := uuid.New()
		c := entgql.Cursor[uuid.UUID]{ID: id, Value: []any{at}}
		var want, got bytes.Buffer
		c.MarshalGQL(&want)
		MarshalCursor(c).MarshalGQL(&got)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%v: got %s, entgql %s", at, got.Bytes(), want.Bytes())
		}
		back, err := UnmarshalCursor(strings.Trim(got.String(), `"`))
		if err != nil || back.ID != id {
			t.Fatalf("%v: read back %v, %v", at, back, err)
		}
	}
	// Event positions.
	for _, n := range []int64{0, 1, -1, 127, 128, 1 << 31, 1<<63 - 1, -1 << 63, rng.Int64()} {
		c := entgql.Cursor[uuid.UUID]{Value: n}
		var want, got bytes.Buffer
		c.MarshalGQL(&want)
		MarshalCursor(c).MarshalGQL(&got)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%d: got %s, entgql %s", n, got.Bytes(), want.Bytes())
		}
	}
	// Other cursors are entgql's own.
	for _, v := range []any{nil, "x", []any{}, []any{1}, []any{time.Now(), 2}, int32(5)} {
		c := entgql.Cursor[uuid.UUID]{ID: uuid.New(), Value: v}
		var want, got bytes.Buffer
		c.MarshalGQL(&want)
		MarshalCursor(c).MarshalGQL(&got)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%v: got %s, entgql %s", v, got.Bytes(), want.Bytes())
		}
	}
}
