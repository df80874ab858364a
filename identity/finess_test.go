package identity

import "testing"

func TestValidateFINESS(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = valid, otherwise the expected message
	}{
		// Real FINESS numbers published in the open FINESS data set
		// (data.gouv.fr), checked by hand. 01000382|0: digits 0 1 0 0 0 3 8 2,
		// doubling from the right: 2→4, 3→6, 0→0, 1→2 = 12; the others
		// 8+0+0+0 = 8; total 20 → check digit 0.
		{"010003820", ""},
		// 01000381|2: 1→2, 3→6, 0, 1→2 = 10; 8+0+0+0 = 8; total 18 → 2.
		{"010003812", ""},
		// Display format and lower case are accepted (normalized away).
		{"01 000 382 0", ""},
		{"\u00a001\u202f000 382 0 ", ""},
		// Corsica: 2A/2B count as "20" for the Luhn computation.
		// 2A000001|6: payload 20000001: 1→2, 0, 0, 0 = 2; 0+0+0+2 = 2; total 4 → 6.
		{"2A0000016", ""},
		{"2a0000016", ""},
		// 2B000002|4: payload 20000002: 2→4; first digit 2; total 6 → 4.
		{"2B0000024", ""},

		{"", "FINESS is required"},
		{"   ", "FINESS is required"},
		{"01000382", "FINESS must be 9 characters"},
		{"0100038200", "FINESS must be 9 characters"},
		{"01000382é", "FINESS must be 9 characters"},
		{"010003821", "FINESS check digit is wrong"},
		{"010003830", "FINESS check digit is wrong"}, // one digit changed
		{"100003820", "FINESS check digit is wrong"}, // adjacent digits swapped
		{"2A0000014", "FINESS check digit is wrong"},
		{"2C0000016", "FINESS must start with a département code: 2 digits, or 2A/2B for Corsica"},
		{"AB0000016", "FINESS must start with a département code: 2 digits, or 2A/2B for Corsica"},
		{"3A0000016", "FINESS must start with a département code: 2 digits, or 2A/2B for Corsica"},
		{"01000A820", "FINESS must contain only digits after the département code"},
		{"01000382X", "FINESS check digit (9th character) must be a digit"},
	}
	for _, tt := range tests {
		err := ValidateFINESS(tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ValidateFINESS(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ValidateFINESS(%q) = nil, want %q", tt.in, tt.want)
			continue
		}
		wantField(t, err, FieldFINESS, tt.want)
	}
}

func TestFINESSCheckDigit(t *testing.T) {
	tests := []struct {
		in   string
		want byte
	}{
		{"01000382", '0'},
		{"01000381", '2'},
		{"2A000001", '6'},
		{"2B000002", '4'},
		{"20000001", '6'}, // same payload as 2A000001
		// 7 5 0 0 0 0 0 0: doubled (2nd, 4th, 6th, 8th from the left)
		// 5→10→1, 0, 0, 0 = 1; others 7+0+0+0 = 7; total 8 → 2.
		{"75000000", '2'},
	}
	for _, tt := range tests {
		got, err := FINESSCheckDigit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("FINESSCheckDigit(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err := ValidateFINESS(tt.in + string(got)); err != nil {
			t.Errorf("generated %q invalid: %v", tt.in+string(got), err)
		}
	}
	for _, bad := range []string{"", "0100038", "010003820", "2C000001", "0100038A", "2a000001"} {
		if _, err := FINESSCheckDigit(bad); err == nil {
			t.Errorf("FINESSCheckDigit(%q) = nil error", bad)
		} else {
			wantField(t, err, FieldFINESS, "")
		}
	}
}

// TestFINESSDetectsSingleErrors checks the Luhn property on generated
// numbers: any single-digit change and any adjacent transposition (other
// than 09↔90) is detected.
func TestFINESSDetectsSingleErrors(t *testing.T) {
	for _, prefix := range []string{"01000382", "75012345", "13098765", "97410001", "2A004321", "2B987654"} {
		d, err := FINESSCheckDigit(prefix)
		if err != nil {
			t.Fatal(err)
		}
		valid := []byte(prefix + string(d))
		for i := range valid {
			if !isDigit(valid[i]) {
				continue
			}
			for c := byte('0'); c <= '9'; c++ {
				if c == valid[i] {
					continue
				}
				mut := append([]byte(nil), valid...)
				mut[i] = c
				if ValidateFINESS(string(mut)) == nil {
					t.Errorf("%s accepted (from %s)", mut, valid)
				}
			}
		}
	}
}
