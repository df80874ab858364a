package identity

import (
	"bufio"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckPassword(t *testing.T) {
	const email = "claire.martin@chu-exemple.fr"
	const (
		tooShort   = "password must be at least 12 characters"
		tooLong    = "password must be at most 256 characters"
		isEmail    = "password must not be your e-mail address"
		hasLocal   = "password must not contain the part of your e-mail address before the @"
		repeated   = "password must not be a single repeated character"
		pattern    = "password must not be a short pattern repeated"
		sequence   = "password must not be a sequence of consecutive digits or letters"
		tooCommon  = "password is too common: it is in the list of most used passwords"
		notUTF8    = "password must be valid UTF-8 text"
		okPassword = ""
	)
	tests := []struct {
		password, email, want string
	}{
		{"Brume-Lavande-Sur-Le-Port", email, okPassword},
		{"correct cheval pile agrafe", email, okPassword},
		{"demo-passerelle-2026", email, okPassword}, // demo mode is handled elsewhere
		{"demo-passerelle-2026", "", okPassword},
		{"éléphantrosé", email, okPassword}, // exactly 12 runes, 14 bytes
		{"xK9#mQ2$vL7!", "", okPassword},    // exactly 12
		{"éléphantros", email, tooShort},    // 11 runes, 13 bytes
		{"", email, tooShort},
		{"short", email, tooShort},
		{strings.Repeat("ab1", 85) + "x", email, okPassword}, // 256 runes
		{strings.Repeat("ab1", 85) + "xy", email, tooLong},   // 257 runes
		{"abc\xffdefghijklm", email, notUTF8},

		// E-mail rules (case-insensitive).
		{email, email, isEmail},
		{"Claire.Martin@CHU-exemple.fr", email, isEmail},
		{"bob@chu-ex.fr", "BOB@chu-ex.fr", isEmail}, // local part < 4 but equal to the address
		{"xx-claire.martin-2026", email, hasLocal},
		{"XXCLAIRE.MARTINYY", email, hasLocal},
		{"jean-bob-lapin-2026", "bob@chu-exemple.fr", okPassword}, // "bob" is < 4 characters
		{"rose-anne-jardin-42", "anne@chu-exemple.fr", hasLocal},
		{"rose-anne-jardin-42", "not-an-address", okPassword},

		// Repetitions and sequences.
		{"aaaaaaaaaaaa", "", repeated},
		{"AAAAAAaaaaaa", "", repeated},
		{"            ", "", repeated},
		{"éééééééééééé", "", repeated},
		{"abcabcabcabc", "", pattern},
		{"abababababab", "", pattern},
		{"1234123412341", "", pattern},
		{"azerazerazer", "", pattern},
		{"abcdeabcdeabcde", "", okPassword}, // unit of 5 is not caught by this rule
		{"123456789012", "", sequence},      // also in the common list
		{"345678901234", "", sequence},
		{"987654321098", "", sequence},
		{"abcdefghijkl", "", sequence},
		{"ABCDEFGHIJKLMNOP", "", sequence},
		{"zyxwvutsrqpo", "", sequence},
		{"xyzabcdefghi", "", sequence},
		{"abcdefghijk1", "", okPassword},

		// Common passwords, including variants and case.
		{"password1234", "", tooCommon},
		{"PassWord1234", "", tooCommon},
		{"motdepasse123", "", tooCommon},
		{"MotDePasse2026!", "", tooCommon},
		{"mot de passe 2026", "", tooCommon},
		{"mot-de-passe-2026", "", tooCommon},
		{"azertyuiop12", "", tooCommon},
		{"qwertyuiop12", "", tooCommon},
		{"1q2w3e4r5t6y", "", tooCommon},
		{"iloveyou1234", "", tooCommon},
		{"passerelle2026", "", tooCommon},
		{"Passerelle2026", "", tooCommon},
		{"soinspalliatifs", "", tooCommon},
	}
	for _, tt := range tests {
		err := CheckPassword(tt.password, tt.email)
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckPassword(%q, %q) = %v, want nil", tt.password, tt.email, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("CheckPassword(%q, %q) = nil, want %q", tt.password, tt.email, tt.want)
			continue
		}
		wantField(t, err, FieldNewPassword, tt.want)
	}
}

func TestCommonPasswordsFile(t *testing.T) {
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	seen := map[string]int{}
	line, entries := 0, 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		entries++
		if s != strings.TrimSpace(s) {
			t.Errorf("line %d %q has surrounding white space", line, s)
		}
		if s != strings.ToLower(s) {
			t.Errorf("line %d %q is not lower-case", line, s)
		}
		if n := utf8.RuneCountInString(s); n < MinPasswordLength {
			t.Errorf("line %d %q is shorter than %d characters: useless", line, s, MinPasswordLength)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("line %d %q duplicates line %d", line, s, prev)
		}
		seen[s] = line
	}
	if entries < 300 {
		t.Errorf("only %d common passwords, want at least 300", entries)
	}
	if _, ok := loadCommonPasswords()["demo-passerelle-2026"]; ok {
		t.Error("the demo password must not be in the common list")
	}
	if got := len(loadCommonPasswords()); got != entries {
		t.Errorf("loaded %d passwords, file has %d", got, entries)
	}
}
