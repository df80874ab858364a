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

// ReceivedSections are, by request, the versions of the requests' section
// of that kind that the viewer's units had received when their dispatches
// closed, the sections having changed since (rule.SectionVersionVisible
// decides; of several closings the latest wins): T is the section's entity
// (ent.MedicalSection, ent.CareProjectSection or ent.AdminSocialSection),
// read back from the kept JSON. A request without one is absent: its
// section is hidden from the viewer, as the row rule says. One statement for
// all the requests. The caller has applied the field rule (the @section
// directive) first.
func ReceivedSections[T any](ctx context.Context, s *Service, requestIDs []uuid.UUID, kind enums.SectionKind) (map[uuid.UUID]*T, error) {
	v := viewer.FromContext(ctx)
	if v == nil || len(v.ReceivingUnits) == 0 || len(requestIDs) == 0 {
		return nil, nil
	}
	vs, err := s.client.SectionVersion.Query().
		Where(sectionversion.RequestIDIn(requestIDs...), sectionversion.KindEQ(kind)).
		Order(ent.Desc(sectionversion.FieldSupersededAt)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]*T, len(vs))
	for _, sv := range vs {
		if _, done := out[sv.RequestID]; done {
			continue // an earlier closing's version
		}
		t := new(T)
		if err := json.Unmarshal(sv.Content, t); err != nil {
			return nil, fmt.Errorf("section version %s: %w", sv.ID, err)
		}
		out[sv.RequestID] = t
	}
	return out, nil
}
