package identity

import (
	"strings"
	"unicode"
)

// compactUpper removes every Unicode white-space character (including the
// no-break spaces U+00A0 and U+202F used in French number formatting) and
// upper-cases ASCII letters, so that " 2a 000 001 6" becomes "2A0000016".
func compactUpper(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || r == '\u200B' || r == '\u2060' || r == '\uFEFF':
			// Skip spaces and zero-width characters pasted from documents.
		case 'a' <= r && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// luhnCheckDigit returns the Luhn check digit (0-9) of payload, which must
// contain only ASCII digits: starting from the rightmost payload digit,
// every other digit is doubled (9 subtracted when the result exceeds 9), and
// the check digit brings the total to a multiple of 10.
func luhnCheckDigit(payload string) int {
	sum := 0
	double := true
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}
