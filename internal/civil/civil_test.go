package civil

import (
	"testing"
	"time"
)

func TestDayIsTheParisCalendarDay(t *testing.T) {
	for _, c := range []struct {
		at   string
		want string
	}{
		{"2026-03-04T22:59:00Z", "2026-03-04"}, // 23:59 in Paris (winter, UTC+1)
		{"2026-03-04T23:00:00Z", "2026-03-05"}, // midnight in Paris
		{"2026-07-14T21:59:00Z", "2026-07-14"}, // 23:59 in Paris (summer, UTC+2)
		{"2026-07-14T22:00:00Z", "2026-07-15"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if got := Day(at).Format(time.DateOnly); got != c.want {
			t.Errorf("Day(%s) = %s, want %s", c.at, got, c.want)
		}
		if d := Day(at); d.Location() != time.UTC || d.Hour() != 0 {
			t.Errorf("Day(%s) = %v, want midnight UTC", c.at, d)
		}
	}
}

func TestDaysBetween(t *testing.T) {
	d := func(s string) time.Time { x, _ := time.Parse(time.DateOnly, s); return x }
	for _, c := range []struct {
		from, to string
		want     int
	}{
		{"2026-03-01", "2026-03-01", 0},
		{"2026-03-01", "2026-03-04", 3},
		{"2026-03-04", "2026-03-01", -3},
		{"2026-03-28", "2026-03-30", 2}, // across the change to summer time
		{"2025-12-31", "2026-01-01", 1},
	} {
		if got := DaysBetween(d(c.from), d(c.to)); got != c.want {
			t.Errorf("DaysBetween(%s, %s) = %d, want %d", c.from, c.to, got, c.want)
		}
	}
}
