package identity

import "unicode/utf8"

// RPPS numbers (Répertoire partagé des professionnels de santé) have 11
// digits; the last one is a Luhn check digit, so the Luhn checksum over all
// 11 digits must be a multiple of 10.

// NormalizeRPPS removes white space from s. It does not validate; store the
// normalized form of a number that ValidateRPPS accepted.
func NormalizeRPPS(s string) string { return compactUpper(s) }

// ValidateRPPS reports whether s (after NormalizeRPPS) is an 11-digit RPPS
// number with a correct Luhn check digit. It returns nil or a *FieldError
// whose field is "rpps".
func ValidateRPPS(s string) error {
	n := NormalizeRPPS(s)
	if n == "" {
		return NewFieldError(FieldRPPS, "RPPS is required")
	}
	if len(n) != 11 || utf8.RuneCountInString(n) != 11 {
		return NewFieldError(FieldRPPS, "RPPS must be 11 digits")
	}
	if !allDigits(n) {
		return NewFieldError(FieldRPPS, "RPPS must contain only digits")
	}
	if byte('0'+luhnCheckDigit(n[:10])) != n[10] {
		return NewFieldError(FieldRPPS, "RPPS check digit is wrong")
	}
	return nil
}

// RPPSCheckDigit returns the Luhn check digit, as an ASCII character
// '0'-'9', that completes first10 (10 digits) into a valid RPPS number.
// first10 is taken as is (no normalization).
func RPPSCheckDigit(first10 string) (byte, error) {
	if len(first10) != 10 {
		return 0, NewFieldError(FieldRPPS, "RPPS without its check digit must be 10 digits")
	}
	if !allDigits(first10) {
		return 0, NewFieldError(FieldRPPS, "RPPS must contain only digits")
	}
	return byte('0' + luhnCheckDigit(first10)), nil
}
