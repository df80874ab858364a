package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"passerelle/demo"
	"passerelle/ent"
	"passerelle/ent/event"
	"passerelle/enums"
	"passerelle/store"
	"passerelle/store/storetest"
	"passerelle/viewer"
)

// crashClient drives a `passerelle serve` process over HTTP.
type crashClient struct {
	base   string
	tokens map[string]string
}

func (c *crashClient) call(tok, op string, vars map[string]any) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"query": contract, "operationName": op, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("%s: %s (%s)", op, r.Errors[0].Message, r.code())
	}
	return r.Data, nil
}

// rank orders request statuses along the happy path.
var rank = map[string]int{"DRAFT": 0, "SENT": 1, "CONFIRMED": 2, "ADMITTED": 3}

// TestCrashSafety kills a serving process with SIGKILL at random moments of
// a write load, restarts it, and checks that every acknowledged mutation is
// there and that the invariants hold: nothing half-written.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills server processes")
	}
	bin := filepath.Join(t.TempDir(), "passerelle")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/passerelle").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	var dbURL string
	if storetest.PostgresURL() != "" {
		dbURL = storetest.DatabaseURL(t)
	}
	acked := map[string]string{} // request id → last acknowledged status
	var mu sync.Mutex
	for round := range 4 {
		c, stop := startServe(t, bin, dataDir, dbURL)
		perine, garnier := crashUnits(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					crashStory(c, perine, garnier, func(id, status string) {
						mu.Lock()
						acked[id] = status
						mu.Unlock()
					})
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		stop() // SIGKILL while requests are in flight
		cancel()
		wg.Wait()
		t.Logf("round %d: %d requests acknowledged so far", round, len(acked))
	}
	if len(acked) == 0 {
		t.Fatal("the load acknowledged nothing")
	}
	// Restart once more so that recovery (WAL replay) is what we check.
	_, stop := startServe(t, bin, dataDir, dbURL)
	stop()
	checkInvariants(t, dataDir, dbURL, acked)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe starts `passerelle serve --demo` and returns a signed-in client
// and a function that kills the process with SIGKILL.
func startServe(t *testing.T, bin, dataDir, dbURL string) (*crashClient, func()) {
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--demo", "--data-dir", dataDir, "--addr", addr)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	c := &crashClient{base: "http://" + addr, tokens: map[string]string{}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(c.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatal("server did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, who := range []string{careTeam, prescriber, perineDoctor, garnierDoc} {
		d, err := c.call("", "Login", map[string]any{"email": who, "password": demo.Password})
		if err != nil {
			stop()
			t.Fatalf("login %s: %v", who, err)
		}
		c.tokens[who] = str(d, "login.token")
	}
	return c, stop
}

func crashUnits(t *testing.T, c *crashClient) (string, string) {
	d, err := c.call(c.tokens[prescriber], "UspUnits", nil)
	if err != nil {
		t.Fatal(err)
	}
	var perine, garnier string
	for _, u := range get(d, "uspUnits").([]any) {
		switch str(u, "name") {
		case "USP Sainte-Périne":
			perine = str(u, "id")
		case "Maison médicale Jeanne Garnier":
			garnier = str(u, "id")
		}
	}
	return perine, garnier
}

// crashStory runs one request's story, reporting each acknowledged status;
// it stops at the first error (the server may be gone).
func crashStory(c *crashClient, perine, garnier string, ack func(id, status string)) {
	v, err := c.call(c.tokens[prescriber], "Viewer", nil)
	if err != nil {
		return
	}
	d, err := c.call(c.tokens[careTeam], "CreateRequest", map[string]any{"input": map[string]any{
		"originStructureId": str(v, "viewer.habilitations.0.structure.id"), "urgency": "WITHIN_48H",
		"patient": map[string]any{"birthName": "Crash", "firstName": "Test", "birthDate": "1950-01-01", "sex": "MALE"}}})
	if err != nil {
		return
	}
	id := str(d, "createAdmissionRequest.request.id")
	ack(id, "DRAFT")
	steps := []struct {
		who, op string
		vars    map[string]any
	}{
		{careTeam, "SaveMedical", map[string]any{"requestId": id, "input": map[string]any{"diagnosis": "x", "ppsScore": 30,
			"prognosis": "WEEKS", "patientInformedOfDiagnosis": "YES", "patientAgreesToUsp": true}}},
		{careTeam, "SaveCareProject", map[string]any{"requestId": id, "input": map[string]any{"stayGoal": "RESPITE"}}},
		{careTeam, "SaveAdminSocial", map[string]any{"requestId": id, "input": map[string]any{"address": "1 rue A", "postalCode": "75001", "city": "Paris"}}},
		{prescriber, "ValidateMedical", map[string]any{"requestId": id}},
	}
	for _, s := range steps {
		if _, err := c.call(c.tokens[s.who], s.op, s.vars); err != nil {
			return
		}
	}
	d, err = c.call(c.tokens[prescriber], "Send", map[string]any{"requestId": id, "unitIds": []string{perine, garnier}})
	if err != nil {
		return
	}
	ack(id, "SENT")
	ds := map[string]string{}
	for _, x := range get(d, "sendAdmissionRequest.dispatches").([]any) {
		ds[str(x, "unit.id")] = str(x, "id")
	}
	for unit, doc := range map[string]string{perine: perineDoctor, garnier: garnierDoc} {
		if _, err := c.call(c.tokens[doc], "Answer", map[string]any{"dispatchId": ds[unit], "input": map[string]any{"decision": "ACCEPT"}}); err != nil {
			return
		}
	}
	if _, err := c.call(c.tokens[prescriber], "Confirm", map[string]any{"dispatchId": ds[perine]}); err != nil {
		return
	}
	ack(id, "CONFIRMED")
	if _, err := c.call(c.tokens[perineDoctor], "RecordAdmission", map[string]any{"dispatchId": ds[perine],
		"admittedAt": time.Now().UTC().Format(time.RFC3339)}); err != nil {
		return
	}
	ack(id, "ADMITTED")
}

// checkInvariants opens the database after the crashes.
func checkInvariants(t *testing.T, dataDir, dbURL string, acked map[string]string) {
	ctx := viewer.System(context.Background())
	db, err := store.Open(ctx, store.Config{DataDir: dataDir, DatabaseURL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reqs, err := db.Client.AdmissionRequest.Query().WithDispatches().WithMedical().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*ent.AdmissionRequest{}
	for _, r := range reqs {
		byID[r.ID.String()] = r
	}
	for id, status := range acked {
		r, ok := byID[id]
		if !ok {
			t.Fatalf("acknowledged request %s is gone", id)
		}
		if rank[string(r.Status)] < rank[status] {
			t.Fatalf("request %s: acknowledged %s, found %s", id, status, r.Status)
		}
	}
	for _, r := range reqs {
		confirmed := 0
		for _, d := range r.Edges.Dispatches {
			if d.Status == enums.DispatchStatusConfirmed || d.Status == enums.DispatchStatusAdmitted {
				confirmed++
			}
			last, err := db.Client.Event.Query().Where(event.DispatchID(d.ID)).Order(ent.Desc(event.FieldID)).First(ctx)
			if err != nil {
				t.Fatalf("dispatch %s has no event: %v", d.ID, err)
			}
			if last.ToStatus != string(d.Status) {
				t.Fatalf("dispatch %s is %s but its last event says %s", d.ID, d.Status, last.ToStatus)
			}
		}
		if confirmed > 1 {
			t.Fatalf("request %s has %d confirmed dispatches", r.ID, confirmed)
		}
		if (r.Status == enums.RequestStatusConfirmed || r.Status == enums.RequestStatusAdmitted) != (confirmed == 1) {
			t.Fatalf("request %s is %s with %d confirmed dispatches", r.ID, r.Status, confirmed)
		}
		if r.Status != enums.RequestStatusDraft && r.Edges.Medical.State != enums.SectionStateValidated {
			t.Fatalf("request %s was sent with a %s medical section", r.ID, r.Edges.Medical.State)
		}
		n, err := db.Client.Event.Query().Where(event.RequestID(r.ID), event.TypeEQ(enums.EventTypeRequestCreated)).Count(ctx)
		if err != nil || n != 1 {
			t.Fatalf("request %s has %d creation events (%v)", r.ID, n, err)
		}
		if r.Status != enums.RequestStatusDraft && len(r.Edges.Dispatches) == 0 {
			t.Fatalf("request %s is %s without dispatches", r.ID, r.Status)
		}
	}
	t.Logf("%d requests checked, %d acknowledged", len(reqs), len(acked))
}
