// Package civil holds the users' calendar: the time zone in which an
// instant becomes a day (an admission's date, a date in an e-mail). Every
// instant is stored in UTC; calendar dates (the Date scalar) are days
// without a zone, stored as midnight UTC.
package civil

import (
	"time"
	_ "time/tzdata" // Europe/Paris on a machine without zoneinfo
)

// Location is the users' time zone (Île-de-France, then the whole country:
// metropolitan France).
var Location = mustLoad("Europe/Paris")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Day is the calendar day of the instant t in Location, as a Date is
// stored: midnight UTC.
func Day(t time.Time) time.Time {
	y, m, d := t.In(Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// DaysBetween is to − from in whole days, both calendar dates stored as
// midnight UTC (a Date, or Day's result).
func DaysBetween(from, to time.Time) int {
	return int(to.UTC().Truncate(24*time.Hour).Sub(from.UTC().Truncate(24*time.Hour)) / (24 * time.Hour))
}
