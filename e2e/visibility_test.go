package e2e

import (
	"slices"
	"testing"
)

// TestWithdrawnUnitSeesNothingAfter: a unit withdrawn from a request keeps
// the timeline it had received, and nothing that happens after.
func TestWithdrawnUnitSeesNothingAfter(t *testing.T) {
	e := newEnv(t)
	perine, garnier := e.unitID("USP Sainte-Périne"), e.unitID("Maison médicale Jeanne Garnier")
	id := e.readyRequest(prescriber)
	sent := e.must(prescriber, "Send", map[string]any{"requestId": id, "unitIds": []string{perine, garnier}})
	dispatchOf := map[string]string{}
	for _, d := range get(sent, "sendAdmissionRequest.dispatches").([]any) {
		dispatchOf[str(d, "unit.id")] = str(d, "id")
	}
	timeline := func(who string) []string {
		var types []string
		for _, ev := range get(e.must(who, "Timeline", map[string]any{"id": id}), "node.events").([]any) {
			types = append(types, str(ev, "type"))
		}
		return types
	}
	e.must(garnierDoc, "OpenDispatch", map[string]any{"dispatchId": dispatchOf[garnier]})
	e.must(prescriber, "Withdraw", map[string]any{"dispatchId": dispatchOf[garnier]})
	before := timeline(garnierDoc)
	if before[len(before)-1] != "DISPATCH_WITHDRAWN" {
		t.Fatalf("the withdrawn unit must see its withdrawal: %v", before)
	}
	e.must(prescriber, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"dependence": "Partielle"}})
	if after := timeline(garnierDoc); !slices.Equal(after, before) {
		t.Fatalf("withdrawn unit saw later events:\nbefore %v\nafter  %v", before, after)
	}
	// The unit still in play sees the change.
	if got := timeline(perineDoctor); !slices.Contains(got, "REQUEST_UPDATED") {
		t.Fatalf("Sainte-Périne should see the update: %v", got)
	}
}
