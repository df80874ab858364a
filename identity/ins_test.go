package identity

import (
	"fmt"
	"testing"
)

func TestValidateINS(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		// 1 89 12 75 125 012: 1891275125012 = 97 × 19497681701 + 15,
		// key 97 − 15 = 82.
		{"189127512501282", ""},
		// Corsica, Corse-du-Sud: 1 85 05 2A 004 012. For the key, 2A → 19:
		// 1850519004012 = 97 × 19077515505 + 27 (97 × 19077515505 =
		// 1850519003985), key 97 − 27 = 70.
		{"185052A00401270", ""},
		{"1 85 05 2A 004 012 70", ""},
		{"1 85 05 2a 004 012 70", ""},
		// Corsica, Haute-Corse: 2 91 12 2B 033 105. For the key, 2B → 18:
		// 2911218033105 = 97 × 30012557042 + 31 (97 × 30012557042 =
		// 2911218033074), key 97 − 31 = 66.
		{"291122B03310566", ""},
		{"2\u00a091\u00a012\u00a02B\u00a0033\u00a0105\u00a066", ""},
		// Reading 2A as 20 would give 1850520004012 = 97 × 19077525814 + 54,
		// key 43: that is not the rule, so 43 is wrong.
		{"185052A00401243", "INS key is wrong"},
		// The same number with a plain "19" département is a different,
		// valid number with the same key.
		{"185051900401270", ""},

		{"", "INS is required"},
		{"1891275125012", "INS must be 15 characters: a 13-character number and a 2-digit key"},
		{"1891275125012820", "INS must be 15 characters: a 13-character number and a 2-digit key"},
		{"189127512501281", "INS key is wrong"},
		{"189127512501228", "INS key is wrong"},
		{"189127512501200", "INS key is wrong"},
		{"18912751250128A", "INS key (last 2 characters) must be digits"},
		{"18912751250A282", "INS must contain only digits, except 2A or 2B (Corsica) in positions 6-7"},
		{"1891272C2501282", "INS must contain only digits, except 2A or 2B (Corsica) in positions 6-7"},
		{"18912A751250128", "INS must contain only digits, except 2A or 2B (Corsica) in positions 6-7"},
		{"689127512501282", "INS must start with 1, 2, 3, 4, 7 or 8"},
		{"089127512501282", "INS must start with 1, 2, 3, 4, 7 or 8"},
	}
	for _, tt := range tests {
		err := ValidateINS(tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ValidateINS(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ValidateINS(%q) = nil, want %q", tt.in, tt.want)
			continue
		}
		wantField(t, err, FieldINS, tt.want)
	}
}

func TestINSFirstDigits(t *testing.T) {
	for c := byte('0'); c <= '9'; c++ {
		first13 := string(c) + "891275125012"
		key, err := INSKey(first13)
		if err != nil {
			t.Fatal(err)
		}
		err = ValidateINS(fmt.Sprintf("%s%02d", first13, key))
		wantOK := c == '1' || c == '2' || c == '3' || c == '4' || c == '7' || c == '8'
		if (err == nil) != wantOK {
			t.Errorf("first digit %c: err = %v, want ok=%v", c, err, wantOK)
		}
	}
}

func TestNormalizeINS(t *testing.T) {
	tests := map[string]string{
		"1 89 12 75 125 012 82":     "189127512501282",
		"  189127512501282\t":       "189127512501282",
		"1 85 05 2a 004 012 70":     "185052A00401270",
		"1\u00a085\u202f05 2B 004 ": "185052B004",
		"":                          "",
	}
	for in, want := range tests {
		if got := NormalizeINS(in); got != want {
			t.Errorf("NormalizeINS(%q) = %q, want %q", in, got, want)
		}
		if got := NormalizeINS(NormalizeINS(in)); got != want {
			t.Errorf("NormalizeINS not idempotent on %q", in)
		}
	}
}

func TestINSKey(t *testing.T) {
	tests := map[string]int{
		"1891275125012": 82,
		"1850519004012": 70,
		"185052A004012": 70,
		"291122B033105": 66,
		"1850520004012": 43,
		"0000000000000": 97, // 0 mod 97 = 0 → 97
	}
	for in, want := range tests {
		got, err := INSKey(in)
		if err != nil || got != want {
			t.Errorf("INSKey(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "189127512501", "18912751250123", "18912C7512501", "185052a004012", "A891275125012"} {
		if _, err := INSKey(bad); err == nil {
			t.Errorf("INSKey(%q) = nil error", bad)
		} else {
			wantField(t, err, FieldINS, "")
		}
	}
}
