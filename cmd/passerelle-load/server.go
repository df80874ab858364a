package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"passerelle/app"
	"passerelle/auth"
	"passerelle/datagen"
	"passerelle/demo"
	"passerelle/ent"
	"passerelle/ent/habilitation"
	"passerelle/ent/structure"
	"passerelle/ent/unit"
	"passerelle/ent/user"
	"passerelle/enums"
	"passerelle/events"
	"passerelle/graph"
	"passerelle/stats"
	"passerelle/store"
	"passerelle/viewer"
)

// target is the server under test and the accounts that drive it.
type target struct {
	app     *app.App // the first instance's
	url     string   // the first instance's: http://127.0.0.1:port/graphql
	client  *http.Client
	dialect string
	// instances are the servers on the database: the first one, and more
	// with --instances (S6), each with its own pool, listener and broker.
	instances []*instance
	store     store.Config
	logger    *slog.Logger
	// serving is how the instances serve (app.Config).
	serving serving

	receiver   account // S1: RECEIVER_PHYSICIAN of USP Sainte-Périne
	prescriber account // S2: PRESCRIBER_PHYSICIAN of Hôpital des Diaconesses
	observer   account // S4: OBSERVER of the regional agency
	// S3: prescribers of several structures, and one receiving physician
	// per accepting USP unit.
	writers   []account
	receivers map[uuid.UUID]account
	units     []uuid.UUID // accepting USP units with a receiving account
	unitID    uuid.UUID   // S1's unit
}

type account struct {
	userID      uuid.UUID
	email       string
	token       string
	structureID uuid.UUID
}

// listenLoopback listens on an ephemeral port of the loopback interface only.
func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// instance is one server built by app.New on the database, served by its
// own net/http server on its own loopback port.
type instance struct {
	app *app.App
	srv *http.Server
	url string // http://127.0.0.1:port/graphql
}

// startInstance builds a server exactly as the command does (app.New) and
// serves it on 127.0.0.1. n numbers the instances from 1; from the second
// on, the PostgreSQL connections carry application_name
// passerelle-load-<n> so that pg_stat_activity tells them apart.
// serving is how an instance serves, as serve's flags set it.
type serving struct {
	// resolversOnly: without the direct reads (serve --direct-reads=false).
	resolversOnly bool
	// statistics: serve --statistics-fresh and --statistics-stale.
	statistics stats.CacheConfig
}

func startInstance(ctx context.Context, st store.Config, logger *slog.Logger, n int, how serving) (*instance, error) {
	lcfg := events.ListenerConfig{}
	if n > 1 {
		st.DatabaseURL = withApplicationName(st.DatabaseURL, fmt.Sprintf("passerelle-load-%d", n))
		lcfg.ApplicationName = fmt.Sprintf("passerelle-listener-%d", n)
	}
	a, err := app.New(ctx, app.Config{
		Store: st,
		// Generated accounts are demo accounts (datagen): they sign in only
		// in demo mode, which loads nothing into a generated database.
		Demo: true,
		// The workflow scenario replays many mutations per account: lift the
		// per-user mutation rate limit (it is measured by its own test).
		Limits: graph.Limits{MutationsPerMinute: 1 << 20, MutationBurst: 1 << 20},
		// No Archive: archiving a generated year (most of its requests are
		// admitted or cancelled) would write in the background of the
		// measurements and change the data between runs.
		Logger:        logger,
		Listener:      lcfg,
		ResolversOnly: how.resolversOnly,
		Statistics:    how.statistics,
	})
	if errors.Is(err, demo.ErrRealData) {
		return nil, fmt.Errorf("%w\n(a data set generated before generated accounts became demo ones: regenerate it, or run "+
			"UPDATE users SET demo = true WHERE email LIKE '%%@%s' on it)", err, datagen.EmailDomain)
	}
	if err != nil {
		return nil, err
	}
	ln, err := listenLoopback()
	if err != nil {
		a.Close()
		return nil, err
	}
	in := &instance{app: a, url: "http://" + ln.Addr().String() + "/graphql"}
	in.srv = &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = in.srv.Serve(ln) }()
	return in, nil
}

func (in *instance) close() {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = in.srv.Shutdown(sctx)
	in.app.Close()
}

// withApplicationName adds application_name to a postgres:// URL (pgx
// and node-postgres both pass it to the server).
func withApplicationName(dbURL, name string) string {
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dbURL
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// startTarget opens the database, builds the server exactly as the command
// does (app.New), serves it on 127.0.0.1 and signs the accounts in.
// how says how the server serves (direct reads, statistics cache).
func startTarget(ctx context.Context, st store.Config, conns int, trace func(context.Context, string), logs bool, how serving) (*target, error) {
	st.Trace = trace
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if logs {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	in, err := startInstance(ctx, st, logger, 1, how)
	if err != nil {
		return nil, err
	}
	t := &target{app: in.app, url: in.url, dialect: in.app.DB.Dialect, client: newHTTPClient(conns),
		instances: []*instance{in}, store: st, logger: logger, serving: how}
	if err := t.signIn(ctx); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// addInstances starts instances until there are n on the database (S6).
// Sessions live in the database, so the tokens signed in on the first
// instance are valid on all.
func (t *target) addInstances(ctx context.Context, n int) error {
	for len(t.instances) < n {
		in, err := startInstance(ctx, t.store, t.logger, len(t.instances)+1, t.serving)
		if err != nil {
			return fmt.Errorf("instance %d: %w", len(t.instances)+1, err)
		}
		t.instances = append(t.instances, in)
	}
	return nil
}

// urls are the instances' GraphQL endpoints.
func (t *target) urls() []string {
	out := make([]string, len(t.instances))
	for i, in := range t.instances {
		out[i] = in.url
	}
	return out
}

func (t *target) close() {
	for i := len(t.instances) - 1; i >= 0; i-- {
		t.instances[i].close()
	}
}

// newHTTPClient is a keep-alive client for conc clients, in the closed
// model or in the open one. Its idle pool holds as many connections as the
// open model may have operations in flight: with fewer (it kept conc + 16),
// whenever more were in flight each one beyond the pool closed its
// connection after use and the next one dialled a new one, adding the
// load generator's connection churn to the server's work just when it was
// behind. (That was not what made the open-model stalls: they remain.)
func newHTTPClient(conc int) *http.Client {
	idle := maxInFlight(conc) + 16
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: idle, MaxIdleConnsPerHost: idle, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true, ForceAttemptHTTP2: false,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
}

// signIn finds the generated accounts the scenarios use, gives them a fresh
// random password (the generator writes accounts without one) and signs
// them in through the API. The demo data set's own accounts are left alone
// (their password is the documented demo one).
func (t *target) signIn(ctx context.Context) error {
	sys := viewer.AllowWrites(viewer.System(ctx))
	c := t.app.DB.Client
	now := time.Now().UTC()
	holder := func(profile enums.Profile, where ...func(*ent.HabilitationQuery)) (*ent.Habilitation, error) {
		q := c.Habilitation.Query().Where(habilitation.ProfileEQ(profile), habilitation.ValidFromLTE(now),
			habilitation.ValidUntilGT(now), habilitation.RevokedAtIsNil(), habilitation.HasUserWith(user.EmailHasSuffix("@"+datagen.EmailDomain)))
		for _, w := range where {
			w(q)
		}
		hs, err := q.Order(ent.Asc(habilitation.FieldUserID)).Limit(1).All(sys)
		if err != nil {
			return nil, err
		}
		if len(hs) == 0 {
			return nil, fmt.Errorf("no generated %s account: generate the data set first (passerelle generate)", profile)
		}
		return hs[0], nil
	}
	perine, err := c.Unit.Query().Where(unit.Name("USP Sainte-Périne")).Only(sys)
	if err != nil {
		return fmt.Errorf("USP Sainte-Périne: %w (is the demo data set loaded?)", err)
	}
	t.unitID = perine.ID
	var want []*ent.Habilitation
	h, err := holder(enums.ProfileReceiverPhysician, func(q *ent.HabilitationQuery) { q.Where(habilitation.UnitID(perine.ID)) })
	if err != nil {
		return err
	}
	want = append(want, h)
	h, err = holder(enums.ProfilePrescriberPhysician, func(q *ent.HabilitationQuery) {
		q.Where(habilitation.HasStructureWith(structure.Name("Hôpital des Diaconesses")))
	})
	if err != nil {
		return err
	}
	want = append(want, h)
	h, err = holder(enums.ProfileObserver)
	if err != nil {
		return err
	}
	want = append(want, h)
	// S3 writers: one prescriber on each of up to 8 care structures.
	ws, err := c.Habilitation.Query().Where(habilitation.ProfileEQ(enums.ProfilePrescriberPhysician),
		habilitation.ValidFromLTE(now), habilitation.ValidUntilGT(now), habilitation.UnitIDIsNil(),
		habilitation.HasUserWith(user.EmailHasSuffix("@"+datagen.EmailDomain))).Order(ent.Asc(habilitation.FieldID)).All(sys)
	if err != nil {
		return err
	}
	seen := map[uuid.UUID]bool{}
	for _, w := range ws {
		if !seen[w.StructureID] && len(seen) < 8 {
			seen[w.StructureID] = true
			want = append(want, w)
		}
	}
	rs, err := c.Habilitation.Query().Where(habilitation.ProfileEQ(enums.ProfileReceiverPhysician),
		habilitation.ValidFromLTE(now), habilitation.ValidUntilGT(now), habilitation.UnitIDNotNil(),
		habilitation.HasUnitWith(unit.AcceptingRequests(true)), habilitation.HasUserWith(user.EmailHasSuffix("@"+datagen.EmailDomain))).
		Order(ent.Asc(habilitation.FieldID)).All(sys)
	if err != nil {
		return err
	}
	recvSeen := map[uuid.UUID]bool{}
	for _, r := range rs {
		if !recvSeen[*r.UnitID] {
			recvSeen[*r.UnitID] = true
			want = append(want, r)
		}
	}

	// One fresh random password for this run.
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	password := "Bench-" + base64.RawURLEncoding.EncodeToString(raw)
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	ids := map[uuid.UUID]bool{}
	var idList []uuid.UUID
	for _, h := range want {
		if !ids[h.UserID] {
			ids[h.UserID] = true
			idList = append(idList, h.UserID)
		}
	}
	if err := c.User.Update().Where(user.IDIn(idList...)).SetPasswordHash(hash).SetPasswordChangedAt(now).Exec(sys); err != nil {
		return err
	}
	users, err := c.User.Query().Where(user.IDIn(idList...)).All(sys)
	if err != nil {
		return err
	}
	email := map[uuid.UUID]string{}
	for _, u := range users {
		email[u.ID] = u.Email
	}
	tokens := map[uuid.UUID]string{}
	for _, id := range idList {
		tok, err := t.login(ctx, email[id], password)
		if err != nil {
			return err
		}
		tokens[id] = tok
	}
	acc := func(h *ent.Habilitation) account {
		return account{userID: h.UserID, email: email[h.UserID], token: tokens[h.UserID], structureID: h.StructureID}
	}
	t.receiver, t.prescriber, t.observer = acc(want[0]), acc(want[1]), acc(want[2])
	t.receivers = map[uuid.UUID]account{}
	for _, h := range want[3:] {
		if h.Profile == enums.ProfilePrescriberPhysician {
			t.writers = append(t.writers, acc(h))
		} else {
			t.receivers[*h.UnitID] = acc(h)
			t.units = append(t.units, *h.UnitID)
		}
	}
	sort.Slice(t.units, func(i, j int) bool { return t.units[i].String() < t.units[j].String() })
	if len(t.writers) == 0 || len(t.units) < 3 {
		return errors.New("the data set lacks prescribers or accepting USP units for the workflow scenario")
	}
	return nil
}

func (t *target) login(ctx context.Context, email, password string) (string, error) {
	var out struct {
		Login struct{ Token string } `json:"login"`
	}
	if err := t.gql(ctx, "", loginDoc, "Login", map[string]any{"email": email, "password": password}, &out); err != nil {
		return "", fmt.Errorf("signing %s in: %w", email, err)
	}
	return out.Login.Token, nil
}

// gqlBody encodes a GraphQL request.
func gqlBody(query, op string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "operationName": op, "variables": vars})
	return b
}

// post sends a prepared body and returns the response body; an HTTP error
// or a GraphQL error is an error.
func (t *target) post(ctx context.Context, url, token string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(b))
	}
	if bytes.Contains(b, []byte(`"errors":[`)) {
		return b, fmt.Errorf("GraphQL errors: %s", truncate(b))
	}
	return b, nil
}

// gql runs one operation on the first instance and decodes its data into out.
func (t *target) gql(ctx context.Context, token, query, op string, vars map[string]any, out any) error {
	return t.gqlAt(ctx, t.url, token, query, op, vars, out)
}

// gqlAt is gql on the endpoint at url.
func (t *target) gqlAt(ctx context.Context, url, token, query, op string, vars map[string]any, out any) error {
	b, err := t.post(ctx, url, token, gqlBody(query, op, vars))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if out == nil {
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return json.Unmarshal(env.Data, out)
}

func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
