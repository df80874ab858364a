package identity

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Properties shared by the identifier fuzz targets: no panic; every error is
// a *FieldError with the default field; a value that validates has a
// normalized form that validates too, is stable under normalization and
// whose check characters are what the generator computes; and, conversely,
// a well-formed prefix completed by the generator validates.

func FuzzValidateFINESS(f *testing.F) {
	for _, s := range []string{"010003820", "010003812", "01 000 382 0", "2A0000016", "2b0000024", "", "2A", "010003821", "\u00a0", "2A000001\u00e9", "9999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateFINESS(s)
		if err != nil {
			if fe, ok := AsFieldError(err); !ok || fe.Field != FieldFINESS || fe.Message == "" {
				t.Fatalf("ValidateFINESS(%q) returned %#v", s, err)
			}
		} else {
			n := NormalizeFINESS(s)
			if len(n) != 9 || NormalizeFINESS(n) != n {
				t.Fatalf("normalized %q → %q", s, n)
			}
			if err := ValidateFINESS(n); err != nil {
				t.Fatalf("normalized %q rejected: %v", n, err)
			}
			d, err := FINESSCheckDigit(n[:8])
			if err != nil || d != n[8] {
				t.Fatalf("FINESSCheckDigit(%q) = %q, %v; number %q", n[:8], d, err, n)
			}
		}
		if len(s) >= 8 {
			if d, err := FINESSCheckDigit(s[:8]); err == nil {
				if err := ValidateFINESS(s[:8] + string(d)); err != nil {
					t.Fatalf("generated %q rejected: %v", s[:8]+string(d), err)
				}
			}
		}
	})
}

func FuzzValidateRPPS(f *testing.F) {
	for _, s := range []string{"10003456786", "10000000009", "100 034 567 86", "10003456789", "", "1000345678A", "١٠٠٠٣٤٥٦٧٨٦"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateRPPS(s)
		if err != nil {
			if fe, ok := AsFieldError(err); !ok || fe.Field != FieldRPPS || fe.Message == "" {
				t.Fatalf("ValidateRPPS(%q) returned %#v", s, err)
			}
		} else {
			n := NormalizeRPPS(s)
			if len(n) != 11 || !allDigits(n) || NormalizeRPPS(n) != n {
				t.Fatalf("normalized %q → %q", s, n)
			}
			if err := ValidateRPPS(n); err != nil {
				t.Fatalf("normalized %q rejected: %v", n, err)
			}
			if d, err := RPPSCheckDigit(n[:10]); err != nil || d != n[10] {
				t.Fatalf("RPPSCheckDigit(%q) = %q, %v", n[:10], d, err)
			}
		}
		if len(s) >= 10 {
			if d, err := RPPSCheckDigit(s[:10]); err == nil {
				if err := ValidateRPPS(s[:10] + string(d)); err != nil {
					t.Fatalf("generated %q rejected: %v", s[:10]+string(d), err)
				}
			}
		}
	})
}

func FuzzValidateINS(f *testing.F) {
	for _, s := range []string{"189127512501282", "185052A00401270", "291122B03310566", "1 85 05 2a 004 012 70", "185052A00401243", "", "2A", "000000000000097", "789127512501282x", "1850\u00a052B0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateINS(s)
		if err != nil {
			if fe, ok := AsFieldError(err); !ok || fe.Field != FieldINS || fe.Message == "" {
				t.Fatalf("ValidateINS(%q) returned %#v", s, err)
			}
		} else {
			n := NormalizeINS(s)
			if len(n) != 15 || NormalizeINS(n) != n {
				t.Fatalf("normalized %q → %q", s, n)
			}
			if err := ValidateINS(n); err != nil {
				t.Fatalf("normalized %q rejected: %v", n, err)
			}
			key, err := INSKey(n[:13])
			if err != nil || fmt.Sprintf("%02d", key) != n[13:] {
				t.Fatalf("INSKey(%q) = %d, %v; INS %q", n[:13], key, err, n)
			}
			if strings.ContainsAny(n[:5]+n[7:], "AB") {
				t.Fatalf("letters outside positions 6-7 accepted: %q", n)
			}
		}
		if len(s) >= 13 {
			if key, err := INSKey(s[:13]); err == nil {
				if key < 1 || key > 97 {
					t.Fatalf("INSKey(%q) = %d out of range", s[:13], key)
				}
				full := s[:13] + fmt.Sprintf("%02d", key)
				if insFirstDigitOK(s[0]) {
					if err := ValidateINS(full); err != nil {
						t.Fatalf("generated %q rejected: %v", full, err)
					}
				}
				// Any other key is rejected.
				other := s[:13] + fmt.Sprintf("%02d", key%97+1)
				if ValidateINS(other) == nil {
					t.Fatalf("wrong key accepted: %q", other)
				}
			}
		}
	})
}

func FuzzFoldName(f *testing.F) {
	for _, s := range []string{"Élodie  DUPONT-Martin", "elodie dupont martin", "N’Diaye d'Orléans", "Cœur ẞ Æ", "E\u0301lodie", " - ' ", "", "\xff\xfe", "ΣΟΦΊΑ", "İstanbul", "a \u0301 b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := FoldName(s)
		if again := FoldName(got); again != got {
			t.Fatalf("not idempotent: %q → %q → %q", s, got, again)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("FoldName(%q) = %q is not valid UTF-8", s, got)
		}
		if got != strings.TrimSpace(got) || strings.Contains(got, "  ") {
			t.Fatalf("FoldName(%q) = %q: white space not collapsed", s, got)
		}
		if strings.ContainsAny(got, "-'’\t\n") {
			t.Fatalf("FoldName(%q) = %q still has separators", s, got)
		}
		// Folding commutes with the separators: joining the folded words
		// gives the same key as folding the whole.
		if joined := FoldName(strings.Join(strings.Fields(s), "-")); joined != got {
			t.Fatalf("FoldName(%q) = %q but with hyphens %q", s, got, joined)
		}
	})
}

func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"claire.martin@chu-exemple.fr", " A@B.FR ", "Claire <c@chu.fr>", "a@b", "élodie@hôpital.fr", "\"x y\"@a.fr", "a@[1.2.3.4]", "K@K.fr"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ValidateEmail(s)
		if err != nil {
			if fe, ok := AsFieldError(err); !ok || fe.Field != FieldEmail || got != "" {
				t.Fatalf("ValidateEmail(%q) = %q, %#v", s, got, err)
			}
			return
		}
		if got != strings.ToLower(got) || len(got) > MaxEmailLength || !strings.Contains(got, "@") {
			t.Fatalf("ValidateEmail(%q) = %q", s, got)
		}
		again, err := ValidateEmail(got)
		if err != nil || again != got {
			t.Fatalf("normalized %q not stable: %q, %v", got, again, err)
		}
	})
}
