package identity

import (
	"strings"
	"testing"
)

func TestValidateEmail(t *testing.T) {
	valid := map[string]string{
		"claire.martin@chu-exemple.fr":          "claire.martin@chu-exemple.fr",
		"  Claire.Martin@CHU-Exemple.FR \n":     "claire.martin@chu-exemple.fr",
		"secretariat.usp+demandes@ght.sante.fr": "secretariat.usp+demandes@ght.sante.fr",
		"o'brien@example.co.uk":                 "o'brien@example.co.uk",
		"élodie@hôpital.fr":                     "élodie@hôpital.fr",
		"ÉLODIE@HÔPITAL.FR":                     "élodie@hôpital.fr",
		"a@b.fr":                                "a@b.fr",
	}
	for in, want := range valid {
		got, err := ValidateEmail(in)
		if err != nil || got != want {
			t.Errorf("ValidateEmail(%q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		// The normalized form is itself valid and stable.
		if again, err := ValidateEmail(got); err != nil || again != got {
			t.Errorf("ValidateEmail(%q) = %q, %v; not stable", got, again, err)
		}
	}

	invalid := map[string]string{
		"":                                      "e-mail address is required",
		"   ":                                   "e-mail address is required",
		"claire":                                "e-mail address is not valid",
		"claire@":                               "e-mail address is not valid",
		"@chu.fr":                               "e-mail address is not valid",
		"claire@@chu.fr":                        "e-mail address is not valid",
		"claire martin@chu.fr":                  "e-mail address is not valid",
		"claire@chu":                            "e-mail domain must contain a dot, like example.fr",
		"claire@localhost":                      "e-mail domain must contain a dot, like example.fr",
		"Claire Martin <claire@chu.fr>":         "e-mail address must be given without a display name or angle brackets, like name@example.fr",
		"<claire@chu.fr>":                       "e-mail address must be given without a display name or angle brackets, like name@example.fr",
		"claire@chu.fr (Claire)":                "e-mail address is not valid",
		`"claire martin"@chu.fr`:                "e-mail address is not valid",
		"claire@[192.0.2.1]":                    "e-mail domain must be a host name, not an IP address literal",
		"claire@-chu.fr":                        "e-mail domain is not a valid host name",
		"claire@chu-.fr":                        "e-mail domain is not a valid host name",
		"claire@chu!.fr":                        "e-mail domain is not a valid host name",
		"claire@chu.fr.":                        "e-mail address is not valid",
		"a@b.fr, c@d.fr":                        "e-mail address is not valid",
		strings.Repeat("a", 65) + "@chu.fr":     "the part of the e-mail address before @ must be at most 64 characters",
		"a@" + strings.Repeat("b", 250) + ".fr": "e-mail address must be at most 254 characters",
		"claire\xff@chu.fr":                     "e-mail address is not valid text",
	}
	for in, msg := range invalid {
		got, err := ValidateEmail(in)
		if err == nil {
			t.Errorf("ValidateEmail(%q) = %q, nil; want error %q", in, got, msg)
			continue
		}
		if got != "" {
			t.Errorf("ValidateEmail(%q) returned %q with an error", in, got)
		}
		wantField(t, err, FieldEmail, msg)
	}

	// 254 characters exactly is accepted.
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".fr"
	if len(long) != 254 {
		t.Fatalf("test address is %d bytes", len(long))
	}
	if _, err := ValidateEmail(long); err != nil {
		t.Errorf("254-character address rejected: %v", err)
	}
}
