package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"passerelle/authz"
	"passerelle/enums"
	"passerelle/viewer"
)

// baseline serves the S1 and S2 data with hand-written SQL over
// database/sql behind a plain net/http handler: the "no GraphQL, no ORM"
// limit. It does the same work a hand-written server must do: authenticate
// the bearer token (session, account, valid habilitations), apply the same
// row rules, read the same rows, log the medical reads, answer the same
// JSON. It shares the server's connection pool.
type baseline struct {
	db      *sql.DB
	pg      bool
	srv     *http.Server
	url     string
	idleMax time.Duration
}

func startBaseline(db *sql.DB, dial string) (*baseline, error) {
	b := &baseline{db: db, pg: dial == dialect.Postgres, idleMax: 30 * time.Minute}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /inbox", b.inbox)
	mux.HandleFunc("GET /dashboard", b.dashboard)
	mux.HandleFunc("GET /statistics", b.statistics)
	ln, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	b.url = "http://" + ln.Addr().String()
	return b, nil
}

func (b *baseline) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
}

// q rewrites ? placeholders for PostgreSQL.
func (b *baseline) q(s string) string { return rebind(b.pg, s) }

func rebind(pg bool, s string) string {
	if !pg {
		return s
	}
	var out strings.Builder
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			out.WriteString("$" + strconv.Itoa(n))
			continue
		}
		out.WriteByte(s[i])
	}
	return out.String()
}

var errUnauthenticated = errors.New("unauthenticated")

// authenticate is auth.Authenticate by hand: the session of the token, its
// account, the habilitations valid now and the USP units they receive for.
func (b *baseline) authenticate(ctx context.Context, r *http.Request) (*viewer.Viewer, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return nil, errUnauthenticated
	}
	h := sha256.Sum256([]byte(token))
	now := time.Now().UTC()
	var (
		sessionID, userID uuid.UUID
		expires, lastSeen time.Time
		revoked           sql.NullTime
		disabled          bool
		passwordChanged   sql.NullTime
	)
	err := b.db.QueryRowContext(ctx, b.q(`SELECT s.id, s.user_id, s.expires_at, s.last_seen_at, s.revoked_at, u.disabled, u.password_changed_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`), h[:]).
		Scan(&sessionID, &userID, &expires, &lastSeen, &revoked, &disabled, &passwordChanged)
	if err != nil {
		return nil, errUnauthenticated
	}
	if revoked.Valid || !now.Before(expires) || now.Sub(lastSeen) >= b.idleMax || disabled {
		return nil, errUnauthenticated
	}
	rows, err := b.db.QueryContext(ctx, b.q(`SELECT h.id, h.profile, h.structure_id, h.unit_id, s.kind, h.valid_until
		FROM habilitations h JOIN structures s ON s.id = h.structure_id
		WHERE h.user_id = ? AND h.valid_from <= ? AND h.valid_until > ? AND h.revoked_at IS NULL`), userID, now, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	v := &viewer.Viewer{UserID: userID, SessionID: sessionID}
	var wholeStructures []any
	for rows.Next() {
		var hb viewer.Habilitation
		var unit uuid.NullUUID
		if err := rows.Scan(&hb.ID, &hb.Profile, &hb.StructureID, &unit, &hb.StructureKind, &hb.ValidUntil); err != nil {
			return nil, err
		}
		if unit.Valid {
			hb.UnitID = &unit.UUID
		}
		v.Habilitations = append(v.Habilitations, hb)
		if hb.Profile == enums.ProfileReceiverPhysician || hb.Profile == enums.ProfileReceiverStaff {
			if hb.UnitID != nil {
				v.ReceivingUnits = append(v.ReceivingUnits, *hb.UnitID)
			} else {
				wholeStructures = append(wholeStructures, hb.StructureID)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(wholeStructures) > 0 {
		urows, err := b.db.QueryContext(ctx, b.q(`SELECT id FROM units WHERE kind = 'USP' AND structure_id IN (`+
			placeholders(len(wholeStructures))+`)`), wholeStructures...)
		if err != nil {
			return nil, err
		}
		defer urows.Close()
		for urows.Next() {
			var id uuid.UUID
			if err := urows.Scan(&id); err != nil {
				return nil, err
			}
			v.ReceivingUnits = append(v.ReceivingUnits, id)
		}
	}
	v.PasswordExpired = !passwordChanged.Valid || now.Sub(passwordChanged.Time) > 183*24*time.Hour
	if v.PasswordExpired || len(v.Habilitations) == 0 {
		return nil, errUnauthenticated
	}
	return v, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func cursor(id uuid.UUID, t time.Time) string {
	var buf [24]byte
	copy(buf[:16], id[:])
	binary.BigEndian.PutUint64(buf[16:], uint64(t.UnixNano()))
	return base64.RawStdEncoding.EncodeToString(buf[:])
}

func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, errUnauthenticated) {
		code = http.StatusUnauthorized
	}
	http.Error(w, `{"errors":[{"message":`+strconv.Quote(err.Error())+`}]}`, code)
}

// Inbox JSON, in the shape of the GraphQL answer.
type (
	inboxPatient struct {
		BirthName string `json:"birthName"`
		FirstName string `json:"firstName"`
		BirthDate string `json:"birthDate"`
	}
	inboxRequest struct {
		ID        uuid.UUID    `json:"id"`
		Reference string       `json:"reference"`
		Urgency   string       `json:"urgency"`
		Patient   inboxPatient `json:"patient"`
	}
	inboxNode struct {
		ID      uuid.UUID    `json:"id"`
		Status  string       `json:"status"`
		SentAt  time.Time    `json:"sentAt"`
		Request inboxRequest `json:"request"`
	}
	inboxEdge struct {
		Cursor string    `json:"cursor"`
		Node   inboxNode `json:"node"`
	}
	pageInfo struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	}
	inboxAnswer struct {
		Data struct {
			Inbox struct {
				TotalCount int         `json:"totalCount"`
				PageInfo   pageInfo    `json:"pageInfo"`
				Edges      []inboxEdge `json:"edges"`
			} `json:"inbox"`
		} `json:"data"`
	}
)

// inbox is S1 by hand: the unit's dispatches newest first, with request
// and patient summary, and the total count.
func (b *baseline) inbox(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := b.authenticate(ctx, r)
	if err != nil {
		fail(w, err)
		return
	}
	unitID, err := uuid.Parse(r.URL.Query().Get("unitId"))
	if err != nil || !v.ReceivesFor(unitID) {
		http.Error(w, `{"errors":[{"message":"unit inbox not found"}]}`, http.StatusNotFound)
		return
	}
	first, _ := strconv.Atoi(r.URL.Query().Get("first"))
	if first <= 0 || first > 100 {
		first = pageSize
	}
	var out inboxAnswer
	box := &out.Data.Inbox
	if err := b.db.QueryRowContext(ctx, b.q(`SELECT count(*) FROM dispatches WHERE unit_id = ?`), unitID).Scan(&box.TotalCount); err != nil {
		fail(w, err)
		return
	}
	rows, err := b.db.QueryContext(ctx, b.q(`SELECT d.id, d.status, d.sent_at, r.id, r.reference, r.urgency,
			p.birth_name, p.first_name, p.birth_date
		FROM dispatches d JOIN admission_requests r ON r.id = d.request_id JOIN patients p ON p.id = r.patient_id
		WHERE d.unit_id = ? ORDER BY d.sent_at DESC, d.id LIMIT ?`), unitID, first+1)
	if err != nil {
		fail(w, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var e inboxEdge
		var birth time.Time
		n := &e.Node
		if err := rows.Scan(&n.ID, &n.Status, &n.SentAt, &n.Request.ID, &n.Request.Reference, &n.Request.Urgency,
			&n.Request.Patient.BirthName, &n.Request.Patient.FirstName, &birth); err != nil {
			fail(w, err)
			return
		}
		n.SentAt = n.SentAt.UTC()
		n.Request.Patient.BirthDate = birth.Format(time.DateOnly)
		e.Cursor = cursor(n.ID, n.SentAt)
		box.Edges = append(box.Edges, e)
	}
	if err := rows.Err(); err != nil {
		fail(w, err)
		return
	}
	if len(box.Edges) > first {
		box.Edges, box.PageInfo.HasNextPage = box.Edges[:first], true
	}
	if len(box.Edges) > 0 {
		c := box.Edges[len(box.Edges)-1].Cursor
		box.PageInfo.EndCursor = &c
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&out)
}

// Dashboard JSON.
type (
	sectionState struct {
		State     string  `json:"state"`
		Diagnosis *string `json:"diagnosis,omitempty"`
	}
	dashUnit struct {
		ID   uuid.UUID `json:"id"`
		Name string    `json:"name"`
	}
	dashDispatch struct {
		ID     uuid.UUID `json:"id"`
		Status string    `json:"status"`
		Late   bool      `json:"late"`
		Unit   dashUnit  `json:"unit"`
	}
	dashNode struct {
		ID          uuid.UUID      `json:"id"`
		Reference   string         `json:"reference"`
		Status      string         `json:"status"`
		Urgency     string         `json:"urgency"`
		Patient     inboxPatient   `json:"patient"`
		Medical     *sectionState  `json:"medical"`
		CareProject *sectionState  `json:"careProject"`
		AdminSocial *sectionState  `json:"adminSocial"`
		Dispatches  []dashDispatch `json:"dispatches"`
	}
	dashAnswer struct {
		Data struct {
			AdmissionRequests struct {
				TotalCount int `json:"totalCount"`
				Edges      []struct {
					Node *dashNode `json:"node"`
				} `json:"edges"`
			} `json:"admissionRequests"`
		} `json:"data"`
	}
)

// visible is rule.RequestVisible by hand, as SQL over admission_requests r.
func visible(v *viewer.Viewer) (string, []any) {
	var ors []string
	var args []any
	var structures []any
	for _, h := range v.Habilitations {
		if authz.SideOf(h.Profile) != authz.Requesting {
			continue
		}
		if h.UnitID == nil {
			structures = append(structures, h.StructureID)
		} else {
			ors = append(ors, "(r.origin_structure_id = ? AND r.origin_unit_id = ?)")
			args = append(args, h.StructureID, *h.UnitID)
		}
	}
	if len(structures) > 0 {
		ors = append(ors, "r.origin_structure_id IN ("+placeholders(len(structures))+")")
		args = append(args, structures...)
	}
	if len(v.ReceivingUnits) > 0 {
		ors = append(ors, "r.id IN (SELECT request_id FROM dispatches WHERE unit_id IN ("+placeholders(len(v.ReceivingUnits))+"))")
		for _, u := range v.ReceivingUnits {
			args = append(args, u)
		}
	}
	if len(ors) == 0 {
		return "1 = 0", nil
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// dashboard is S2 by hand: the structure's requests (first page by id, as
// the GraphQL default order) with patient, section states (each only if the
// viewer's profile may read it), every dispatch with its unit, and the
// access log of the medical sections read.
func (b *baseline) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := b.authenticate(ctx, r)
	if err != nil {
		fail(w, err)
		return
	}
	first, _ := strconv.Atoi(r.URL.Query().Get("first"))
	if first <= 0 || first > 100 {
		first = pageSize
	}
	where, args := visible(v)
	var out dashAnswer
	conn := &out.Data.AdmissionRequests
	if err := b.db.QueryRowContext(ctx, b.q(`SELECT count(*) FROM admission_requests r WHERE `+where), args...).Scan(&conn.TotalCount); err != nil {
		fail(w, err)
		return
	}
	// The page first (ids in the default order of the GraphQL connection),
	// then its rows: joins run on 50 requests, not on the whole structure.
	rows, err := b.db.QueryContext(ctx, b.q(`SELECT r.id, r.reference, r.status, r.urgency, r.origin_structure_id, r.origin_unit_id,
			p.birth_name, p.first_name, p.birth_date, m.state, m.diagnosis, c.state, a.state
		FROM (SELECT r.id FROM admission_requests r WHERE `+where+` ORDER BY r.id LIMIT ?) page
		JOIN admission_requests r ON r.id = page.id
		JOIN patients p ON p.id = r.patient_id
		LEFT JOIN medical_sections m ON m.request_id = r.id
		LEFT JOIN care_project_sections c ON c.request_id = r.id
		LEFT JOIN admin_social_sections a ON a.request_id = r.id
		ORDER BY r.id`), append(args, first)...)
	if err != nil {
		fail(w, err)
		return
	}
	byID := map[uuid.UUID]*dashNode{}
	var ids []any
	var medicalRead []uuid.UUID
	for rows.Next() {
		n := &dashNode{Dispatches: []dashDispatch{}}
		var origin uuid.UUID
		var originUnit uuid.NullUUID
		var birth time.Time
		var med, care, adm sectionState
		if err := rows.Scan(&n.ID, &n.Reference, &n.Status, &n.Urgency, &origin, &originUnit, &n.Patient.BirthName,
			&n.Patient.FirstName, &birth, &med.State, &med.Diagnosis, &care.State, &adm.State); err != nil {
			rows.Close()
			fail(w, err)
			return
		}
		n.Patient.BirthDate = birth.Format(time.DateOnly)
		scope := authz.RequestScope{OriginStructure: origin}
		if originUnit.Valid {
			scope.OriginUnit = &originUnit.UUID
		}
		can, _ := authz.OnRequest(v, scope)
		if can[authz.ReadMedical] {
			n.Medical = &med
			medicalRead = append(medicalRead, n.ID)
		}
		if can[authz.ReadCareProject] {
			n.CareProject = &care
		}
		if can[authz.ReadAdminSocial] {
			n.AdminSocial = &adm
		}
		byID[n.ID] = n
		ids = append(ids, n.ID)
		conn.Edges = append(conn.Edges, struct {
			Node *dashNode `json:"node"`
		}{n})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		fail(w, err)
		return
	}
	if len(ids) > 0 {
		drows, err := b.db.QueryContext(ctx, b.q(`SELECT d.id, d.request_id, d.status, d.sent_at, u.id, u.name
			FROM dispatches d JOIN units u ON u.id = d.unit_id
			WHERE d.request_id IN (`+placeholders(len(ids))+`) ORDER BY d.request_id, d.id`), ids...)
		if err != nil {
			fail(w, err)
			return
		}
		now := time.Now()
		for drows.Next() {
			var d dashDispatch
			var req uuid.UUID
			var sent time.Time
			if err := drows.Scan(&d.ID, &req, &d.Status, &sent, &d.Unit.ID, &d.Unit.Name); err != nil {
				drows.Close()
				fail(w, err)
				return
			}
			switch enums.DispatchStatus(d.Status) {
			case enums.DispatchStatusPending, enums.DispatchStatusRead, enums.DispatchStatusInfoRequested:
				d.Late = now.Sub(sent) >= 24*time.Hour
			}
			byID[req].Dispatches = append(byID[req].Dispatches, d)
		}
		drows.Close()
	}
	// Every reading of a medical section is traced, in one insert.
	if len(medicalRead) > 0 {
		now := time.Now().UTC()
		vals := make([]string, len(medicalRead))
		largs := make([]any, 0, 4*len(medicalRead))
		for i, id := range medicalRead {
			vals[i] = "(?, ?, ?, ?)"
			largs = append(largs, v.UserID, id, "MEDICAL_SECTION_READ", now)
		}
		if _, err := b.db.ExecContext(ctx, b.q(`INSERT INTO access_logs (user_id, request_id, kind, accessed_at) VALUES `+
			strings.Join(vals, ", ")), largs...); err != nil {
			fail(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&out)
}

// getOp reads a baseline URL with the account's token.
func (t *target) getOp(url, token string, rows int) operation {
	return func(ctx context.Context, _ int) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := t.client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("baseline HTTP %d: %s", resp.StatusCode, truncate(body))
		}
		return rows, nil
	}
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
