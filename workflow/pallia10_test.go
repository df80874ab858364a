package workflow

import "testing"

func TestPallia10(t *testing.T) {
	y, n := true, false
	for _, c := range []struct {
		name     string
		answers  []bool
		yes      int
		suggests bool
		ok       bool
	}{
		{"all no", []bool{n, n, n, n, n, n, n, n, n, n}, 0, false, true},
		{"item 1 and two more", []bool{y, y, y, n, n, n, n, n, n, n}, 3, true, true},
		{"item 1 and one more", []bool{y, n, y, n, n, n, n, n, n, n}, 2, false, true},
		{"no item 1, many yes", []bool{n, y, y, y, y, y, n, n, n, n}, 5, false, true},
		{"all yes", []bool{y, y, y, y, y, y, y, y, y, y}, 10, true, true},
		{"nine answers", []bool{y, y, y, y, y, y, y, y, y}, 0, false, false},
		{"none", nil, 0, false, false},
	} {
		yes, suggests, ok := Pallia10(c.answers)
		if yes != c.yes || suggests != c.suggests || ok != c.ok {
			t.Errorf("%s: Pallia10 = %d, %v, %v; want %d, %v, %v", c.name, yes, suggests, ok, c.yes, c.suggests, c.ok)
		}
	}
}
