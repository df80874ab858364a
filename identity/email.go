package identity

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxEmailLength is the maximum length, in bytes, of an e-mail address
// (RFC 5321 path limit minus the angle brackets).
const MaxEmailLength = 254

// ValidateEmail checks a bare e-mail address ("name@example.fr") and returns
// its normalized form: surrounding white space trimmed and the whole address
// lower-cased (passerelle compares e-mail addresses case-insensitively, local
// part included). Errors are *FieldError with field "email".
//
// Rejected: empty input, more than 254 characters, anything net/mail cannot
// parse, display names and angle brackets ("Name <a@b.fr>", "<a@b.fr>"),
// comments, quoted local parts, a local part longer than 64 characters,
// domain literals ("[192.0.2.1]"), and domains that are not dotted host names.
func ValidateEmail(s string) (normalized string, err error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", NewFieldError(FieldEmail, "e-mail address is required")
	}
	if len(t) > MaxEmailLength {
		return "", NewFieldError(FieldEmail, "e-mail address must be at most 254 characters")
	}
	if !utf8.ValidString(t) {
		return "", NewFieldError(FieldEmail, "e-mail address is not valid text")
	}
	addr, perr := mail.ParseAddress(t)
	if perr != nil {
		return "", NewFieldError(FieldEmail, "e-mail address is not valid")
	}
	if addr.Name != "" || addr.Address != t {
		if strings.ContainsAny(t, "<>") {
			return "", NewFieldError(FieldEmail, "e-mail address must be given without a display name or angle brackets, like name@example.fr")
		}
		return "", NewFieldError(FieldEmail, "e-mail address is not valid")
	}
	t = strings.ToLower(t)
	if len(t) > MaxEmailLength {
		return "", NewFieldError(FieldEmail, "e-mail address must be at most 254 characters")
	}
	at := strings.LastIndexByte(t, '@')
	if at <= 0 || at == len(t)-1 {
		return "", NewFieldError(FieldEmail, "e-mail address is not valid")
	}
	local, domain := t[:at], t[at+1:]
	if len(local) > 64 {
		return "", NewFieldError(FieldEmail, "the part of the e-mail address before @ must be at most 64 characters")
	}
	if msg := checkEmailDomain(domain); msg != "" {
		return "", NewFieldError(FieldEmail, msg)
	}
	// Lower-casing can, in rare Unicode cases, produce something the parser
	// no longer accepts; the normalized form must itself be valid.
	if a, err := mail.ParseAddress(t); err != nil || a.Name != "" || a.Address != t {
		return "", NewFieldError(FieldEmail, "e-mail address is not valid")
	}
	return t, nil
}

// checkEmailDomain checks a lower-cased domain and returns an error message,
// or "" when it is acceptable: dot-separated labels of 1-63 bytes made of
// letters, digits and inner hyphens (non-ASCII letters are allowed for
// internationalized domains), with at least one dot.
func checkEmailDomain(domain string) string {
	if strings.HasPrefix(domain, "[") {
		return "e-mail domain must be a host name, not an IP address literal"
	}
	if !strings.Contains(domain, ".") {
		return "e-mail domain must contain a dot, like example.fr"
	}
	if len(domain) > 253 {
		return "e-mail domain is too long"
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 {
			return "e-mail domain is not a valid host name"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "e-mail domain is not a valid host name"
		}
		for _, r := range label {
			ok := r == '-' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') ||
				(r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)))
			if !ok {
				return "e-mail domain is not a valid host name"
			}
		}
	}
	return ""
}
