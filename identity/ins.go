package identity

import (
	"strconv"
	"unicode/utf8"
)

// INS (matricule INS, identifiant national de santé) is the patient's NIR
// (numéro d'inscription au répertoire, the social-security number) or NIA
// (numéro d'identification d'attente). It has 15 characters: a 13-character
// number followed by a 2-digit key.
//
//	position  1      sex / kind, see below
//	          2-3    year of birth
//	          4-5    month of birth
//	          6-7    département of birth: digits, or 2A/2B for Corsica
//	          8-10   commune (or country) of birth
//	          11-13  order number
//	          14-15  key = 97 − (number mod 97), from 01 to 97
//
// First digit: 1 (man) and 2 (woman) are the ordinary NIR values, 7 and 8
// mark temporary numbers (NIA / numéros d'attente), and 3 and 4 still occur
// in some legacy or special-case registrations. Product decision: accept
// 1, 2, 3, 4, 7 and 8, reject every other first character.
//
// Corsica: for the key computation only, département "2A" is replaced by
// "19" and "2B" by "18" (the documented INSEE rule: the letters make the
// number non-numeric, and 2A → 19 / 2B → 18 is equivalent to subtracting
// 1 000 000 / 2 000 000 from the number read with "20"). The stored INS keeps
// "2A"/"2B".
//
// Month, commune and order number are not checked beyond being digits:
// their legitimate ranges vary (unknown months, pseudo-months 20-42 and
// 50+, overseas and foreign births) and a wrong INS is caught by the key.

// NormalizeINS removes white space (INS are usually written
// "1 85 05 2A 004 012 34") and upper-cases letters ("2a" → "2A"). It does
// not validate; store the normalized form of an INS that ValidateINS
// accepted.
func NormalizeINS(s string) string { return compactUpper(s) }

// ValidateINS reports whether s (after NormalizeINS) is a well-formed INS
// with a correct key. It returns nil or a *FieldError whose field is "ins".
func ValidateINS(s string) error {
	n := NormalizeINS(s)
	if n == "" {
		return NewFieldError(FieldINS, "INS is required")
	}
	if len(n) != 15 || utf8.RuneCountInString(n) != 15 {
		return NewFieldError(FieldINS, "INS must be 15 characters: a 13-character number and a 2-digit key")
	}
	if msg := insStructure(n[:13]); msg != "" {
		return NewFieldError(FieldINS, msg)
	}
	if !allDigits(n[13:]) {
		return NewFieldError(FieldINS, "INS key (last 2 characters) must be digits")
	}
	if !insFirstDigitOK(n[0]) {
		return NewFieldError(FieldINS, "INS must start with 1, 2, 3, 4, 7 or 8")
	}
	want := insKey(n[:13])
	got, _ := strconv.Atoi(n[13:]) // two ASCII digits: cannot fail
	if got != want {
		return NewFieldError(FieldINS, "INS key is wrong")
	}
	return nil
}

// INSKey returns the 2-digit key (1 to 97) of first13, the 13 leading
// characters of an INS (digits, with "2A"/"2B" allowed in positions 6-7).
// Format it with "%02d" to build the full INS. first13 is taken as is (no
// normalization) and its first digit is not checked.
func INSKey(first13 string) (int, error) {
	if len(first13) != 13 {
		return 0, NewFieldError(FieldINS, "INS without its key must be 13 characters")
	}
	if msg := insStructure(first13); msg != "" {
		return 0, NewFieldError(FieldINS, msg)
	}
	return insKey(first13), nil
}

func insFirstDigitOK(c byte) bool {
	switch c {
	case '1', '2', '3', '4', '7', '8':
		return true
	}
	return false
}

// insStructure checks the 13-character number and returns an error message,
// or "" when it is well-formed.
func insStructure(first13 string) string {
	dep := first13[5:7]
	if !allDigits(first13[:5]) || !allDigits(first13[7:]) ||
		(!allDigits(dep) && dep != "2A" && dep != "2B") {
		return "INS must contain only digits, except 2A or 2B (Corsica) in positions 6-7"
	}
	return ""
}

// insKey computes 97 − (number mod 97) on a well-formed 13-character number,
// after replacing Corsican 2A by 19 and 2B by 18.
func insKey(first13 string) int {
	var digits [13]byte
	copy(digits[:], first13)
	switch first13[5:7] {
	case "2A":
		digits[5], digits[6] = '1', '9'
	case "2B":
		digits[5], digits[6] = '1', '8'
	}
	var v uint64 // 13 digits < 10^13 fits easily
	for _, c := range digits {
		v = v*10 + uint64(c-'0')
	}
	return 97 - int(v%97)
}
