package identity

import "testing"

func TestValidateRPPS(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		// Hand check of 1000345678|6: digits 1 0 0 0 3 4 5 6 7 8, doubling
		// from the right: 8→16→7, 6→12→3, 4→8, 0→0, 0→0 = 18; the others
		// 7+5+3+0+1 = 16; total 34 → check digit 6.
		{"10003456786", ""},
		// 1000000000|9: only the leading 1 counts (not doubled) → 1 → 9.
		{"10000000009", ""},
		{"100 034 567 86", ""},
		{"", "RPPS is required"},
		{"10003456789", "RPPS check digit is wrong"}, // the example from the brief: key is 6, not 9
		{"10003456768", "RPPS check digit is wrong"}, // transposition 86 → 68
		{"10003457786", "RPPS check digit is wrong"},
		{"1000345678", "RPPS must be 11 digits"},
		{"100034567860", "RPPS must be 11 digits"},
		{"1000345678A", "RPPS must contain only digits"},
		{"1000345678a", "RPPS must contain only digits"},
		{"-1000345678", "RPPS must contain only digits"},
	}
	for _, tt := range tests {
		err := ValidateRPPS(tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ValidateRPPS(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ValidateRPPS(%q) = nil, want %q", tt.in, tt.want)
			continue
		}
		wantField(t, err, FieldRPPS, tt.want)
	}
}

func TestRPPSCheckDigit(t *testing.T) {
	for in, want := range map[string]byte{
		"1000345678": '6',
		"1000000000": '9',
		"1000000001": '7', // 1 (doubled → 2) + 1 = 3 → 7
		// Doubled: five 9s → 18→9 each = 45; others: four 9s + 1 = 37;
		// total 82 → check digit 8.
		"1999999999": '8',
	} {
		got, err := RPPSCheckDigit(in)
		if err != nil || got != want {
			t.Errorf("RPPSCheckDigit(%q) = %q, %v; want %q", in, got, err, want)
		}
		if err := ValidateRPPS(in + string(got)); err != nil {
			t.Errorf("generated RPPS invalid: %v", err)
		}
	}
	for _, bad := range []string{"", "123456789", "12345678901", "12345678a0"} {
		if _, err := RPPSCheckDigit(bad); err == nil {
			t.Errorf("RPPSCheckDigit(%q) = nil error", bad)
		}
	}
}
