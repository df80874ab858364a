package identity

import (
	"bufio"
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Password length limits, in characters (runes).
const (
	MinPasswordLength = 12
	MaxPasswordLength = 256
)

//go:embed common-passwords.txt
var commonPasswordsFile string

var (
	commonOnce      sync.Once
	commonPasswords map[string]struct{}
)

// loadCommonPasswords parses the embedded list: one lower-case password per
// line; blank lines and lines starting with '#' are ignored.
func loadCommonPasswords() map[string]struct{} {
	commonOnce.Do(func() {
		commonPasswords = make(map[string]struct{}, 1024)
		sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			commonPasswords[strings.ToLower(line)] = struct{}{}
		}
	})
	return commonPasswords
}

// CheckPassword applies the password policy to a new password chosen by the
// user whose e-mail address is email (email may be empty). It returns nil or
// a *FieldError whose field is "newPassword". Comparisons are
// case-insensitive. The password must:
//
//   - be 12 to 256 characters long (counted in Unicode characters) and valid UTF-8;
//   - not be the e-mail address itself;
//   - not contain the e-mail's local part (before @) when that part has at
//     least 4 characters;
//   - not be a single repeated character ("aaaaaaaaaaaa") or a short unit of
//     2 to 4 characters repeated ("abcabcabcabc", "12341234123412");
//   - not be a pure ascending or descending sequence of digits or letters
//     ("345678901234", "zyxwvutsrqpo");
//   - not be in the embedded list of common passwords (common-passwords.txt),
//     also after removing spaces, hyphens, underscores and dots.
//
// The demo password handling lives elsewhere: this function applies the
// policy only (for instance "demo-passerelle-2026" passes it, unless the
// user's e-mail local part appears in it).
func CheckPassword(password, email string) error {
	fail := func(msg string) error { return NewFieldError(FieldNewPassword, msg) }

	if !utf8.ValidString(password) {
		return fail("password must be valid UTF-8 text")
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength {
		return fail("password must be at least 12 characters")
	}
	if n > MaxPasswordLength {
		return fail("password must be at most 256 characters")
	}
	lower := strings.ToLower(password)

	if e := strings.ToLower(strings.TrimSpace(email)); e != "" {
		if lower == e || strings.TrimSpace(lower) == e {
			return fail("password must not be your e-mail address")
		}
		if at := strings.LastIndexByte(e, '@'); at > 0 {
			local := e[:at]
			if utf8.RuneCountInString(local) >= 4 && strings.Contains(lower, local) {
				return fail("password must not contain the part of your e-mail address before the @")
			}
		}
	}

	runes := []rune(lower)
	if unit := repeatedUnit(runes); unit == 1 {
		return fail("password must not be a single repeated character")
	} else if unit > 1 {
		return fail("password must not be a short pattern repeated")
	}
	if isSequence(runes) {
		return fail("password must not be a sequence of consecutive digits or letters")
	}

	common := loadCommonPasswords()
	if _, ok := common[lower]; ok {
		return fail("password is too common: it is in the list of most used passwords")
	}
	if squeezed := squeezeSeparators(lower); squeezed != lower {
		if _, ok := common[squeezed]; ok {
			return fail("password is too common: it is in the list of most used passwords")
		}
	}
	return nil
}

// repeatedUnit returns the length (1 to 4) of the shortest unit whose
// repetition makes up r entirely (a trailing partial unit is allowed, as in
// "abcabcabcabca"), or 0 when there is none.
func repeatedUnit(r []rune) int {
	for unit := 1; unit <= 4 && unit < len(r); unit++ {
		ok := true
		for i := unit; i < len(r); i++ {
			if r[i] != r[i-unit] {
				ok = false
				break
			}
		}
		if ok {
			return unit
		}
	}
	return 0
}

// isSequence reports whether r is made only of ASCII digits, or only of
// ASCII letters, each one following (or each one preceding) the previous one,
// wrapping around (…8, 9, 0, 1… and …y, z, a, b…).
func isSequence(r []rune) bool {
	if len(r) < 3 {
		return false
	}
	var base, mod rune
	switch {
	case allIn(r, '0', '9'):
		base, mod = '0', 10
	case allIn(r, 'a', 'z'):
		base, mod = 'a', 26
	default:
		return false
	}
	step := ((r[1] - base) - (r[0] - base) + mod) % mod
	if step != 1 && step != mod-1 {
		return false
	}
	for i := 2; i < len(r); i++ {
		if ((r[i]-base)-(r[i-1]-base)+mod)%mod != step {
			return false
		}
	}
	return true
}

func allIn(r []rune, lo, hi rune) bool {
	for _, c := range r {
		if c < lo || c > hi {
			return false
		}
	}
	return true
}

// squeezeSeparators removes white space, hyphens, underscores and dots, so
// that "mot de passe 2026" is compared as "motdepasse2026".
func squeezeSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, s)
}
