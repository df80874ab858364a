package e2e

import (
	"context"
	"testing"
	"time"

	"passerelle/ent/habilitation"
	"passerelle/ent/user"
	"passerelle/viewer"
)

const qExpiring = `query Expiring {
  viewer { habilitations { id expiresSoon structure { id expiringHabilitations { id expiresSoon validUntil user { email } } } } }
}`

// TestExpiringHabilitations: a habilitation ending within 15 days is
// flagged to the referents of its structure (the domain's rule), and to its
// holder on their own grant; nobody else may list a structure's expiring
// grants.
func TestExpiringHabilitations(t *testing.T) {
	e := newEnv(t)
	sys := viewer.AllowWrites(viewer.System(context.Background()))
	ends := time.Now().UTC().Add(10 * 24 * time.Hour).Truncate(time.Second)
	n, err := e.app.DB.Client.Habilitation.Update().
		Where(habilitation.HasUserWith(user.Email(careTeam))).SetValidUntil(ends).Save(sys)
	if err != nil || n != 1 {
		t.Fatalf("shortening the care team's habilitation: %d, %v", n, err)
	}

	r := e.post(e.token(referent), qExpiring, "Expiring", nil)
	wantOK(t, "the referent's expiring habilitations", r)
	if got := get(r.Data, "viewer.habilitations.0.structure.expiringHabilitations"); len(got.([]any)) != 1 {
		t.Fatalf("referent sees %v, want the care team's grant alone", got)
	}
	if email := str(r.Data, "viewer.habilitations.0.structure.expiringHabilitations.0.user.email"); email != careTeam {
		t.Errorf("expiring grant of %q, want %q", email, careTeam)
	}
	if get(r.Data, "viewer.habilitations.0.structure.expiringHabilitations.0.expiresSoon") != true ||
		get(r.Data, "viewer.habilitations.0.expiresSoon") != false {
		t.Errorf("flags: %v", r.Data)
	}
	if got := str(r.Data, "viewer.habilitations.0.structure.expiringHabilitations.0.validUntil"); got != ends.Format(time.RFC3339) {
		t.Errorf("validUntil %s, want %s", got, ends.Format(time.RFC3339))
	}

	// The holder sees the flag on their own grant, not the structure's list.
	r = e.post(e.token(careTeam), `query Own { viewer { habilitations { expiresSoon } } }`, "Own", nil)
	wantOK(t, "the care team's own habilitation", r)
	if get(r.Data, "viewer.habilitations.0.expiresSoon") != true {
		t.Errorf("the holder is not told: %v", r.Data)
	}
	r = e.post(e.token(careTeam), qExpiring, "Expiring", nil)
	wantCode(t, "the care team listing the structure's expiring grants", r, "FORBIDDEN", "")
}
