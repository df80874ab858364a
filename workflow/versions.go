package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"passerelle/ent"
	"passerelle/ent/sectionversion"
	"passerelle/enums"
	"passerelle/viewer"
)

// keepReceived saves a section as it stands, before an edit replaces it,
// when a unit whose dispatch has closed had received it (closed no earlier
// than the section's last change; ds are the request's dispatches): that
// unit keeps read-only access to what it received (domain brief, "who sees
// which request"). Copy on write: nothing is saved while the request is a
// draft (it has no dispatch), nor for a version no closed dispatch saw, nor
// twice for one version (the edit moves updated_at).
func (o *op) keepReceived(req *ent.AdmissionRequest, kind enums.SectionKind, row any, updatedAt time.Time, ds []*ent.Dispatch) error {
	if !slices.ContainsFunc(ds, func(d *ent.Dispatch) bool { return d.ClosedAt != nil && !d.ClosedAt.Before(updatedAt) }) {
		return nil
	}
	content, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("section version: %w", err)
	}
	return o.tx.SectionVersion.Create().SetRequestID(req.ID).SetKind(kind).
		SetUpdatedAt(updatedAt).SetSupersededAt(o.now).SetContent(content).Exec(o.ctx)
}

// ReceivedSection fills into (a *ent.MedicalSection, *ent.CareProjectSection
// or *ent.AdminSocialSection) with the version of the request's section the
// viewer's unit had received when its dispatch closed, the section having
// changed since (rule.SectionVersionVisible decides; the latest closing
// wins). False when there is none for this viewer: the section is then
// hidden from it as the row rule says. The caller has applied the field
// rule (the @section directive) first.
func (s *Service) ReceivedSection(ctx context.Context, requestID uuid.UUID, kind enums.SectionKind, into any) (bool, error) {
	v := viewer.FromContext(ctx)
	if v == nil || len(v.ReceivingUnits) == 0 {
		return false, nil
	}
	sv, err := s.client.SectionVersion.Query().
		Where(sectionversion.RequestID(requestID), sectionversion.KindEQ(kind)).
		Order(ent.Desc(sectionversion.FieldSupersededAt)).First(ctx)
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(sv.Content, into); err != nil {
		return false, fmt.Errorf("section version %s: %w", sv.ID, err)
	}
	return true, nil
}
