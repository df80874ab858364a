package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The peer: PostGraphile v4 (bench/postgraphile, started as a child
// process) serving the receiver-dashboard query over the same PostgreSQL
// data, measured in the same slices as S1 and its baseline.

// Peer variants (--peer): what the peer enforces differs, so each is its
// own contender.
const (
	// peerPlain is PostGraphile connected as the tables' owner: no
	// authentication, no row rules; the client names the unit.
	peerPlain = "postgraphile"
	// peerRLS is PostGraphile running each request as a restricted role
	// with the bearer token's hash: session check and Passerelle's row
	// rules as PostgreSQL row-level security (bench/postgraphile/rls.sql).
	peerRLS = "postgraphile-rls"
)

// parsePeers reads --peer: "", "none", "postgraphile", "postgraphile-rls",
// "both", or a comma-separated list of the two.
func parsePeers(s string) ([]string, error) {
	var out []string
	add := func(p string) {
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	for _, p := range strings.Split(strings.ToLower(s), ",") {
		switch p = strings.TrimSpace(p); p {
		case "", "none":
		case peerPlain, peerRLS:
			add(p)
		case "both", "all":
			add(peerPlain)
			add(peerRLS)
		default:
			return nil, fmt.Errorf("--peer %q: postgraphile, postgraphile-rls or both", p)
		}
	}
	return out, nil
}

// peerVariant is the server.js variant of a peer contender.
func peerVariant(peer string) string {
	if peer == peerRLS {
		return "rls"
	}
	return "plain"
}

// peerInboxDoc is S1's inbox in PostGraphile's schema: the unit's
// dispatches newest first (ties by id, as the baseline), 50 of them, with
// request and patient summary, the page info and the total count. Field
// for field what inboxDoc selects (PostGraphile names the relations after
// their foreign keys; its cursors are its own).
const peerInboxDoc = `query Inbox($unitId: UUID!, $first: Int) {
  allDispatches(condition: {unitId: $unitId}, orderBy: [SENT_AT_DESC, ID_DESC], first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id
        status
        sentAt
        request: admissionRequestByRequestId {
          id reference urgency
          patient: patientByPatientId { birthName firstName birthDate }
        }
      }
    }
  }
}`

// peerProc is the running peer.
type peerProc struct {
	cmd    *exec.Cmd
	url    string            // http://127.0.0.1:port
	routes map[string]string // variant → path
	info   string            // versions, workers, pool
	exited chan struct{}
	mu     sync.Mutex
	tail   []string // last lines of its stderr
}

// peerDeps makes sure node is on PATH and the peer's dependencies are
// installed (npm ci from the committed lockfile), or says exactly what to
// run.
func peerDeps(ctx context.Context, dir string) (node string, err error) {
	if _, err := os.Stat(filepath.Join(dir, "server.js")); err != nil {
		return "", fmt.Errorf("the peer is not at %s (run from the repository root, or pass --peer-dir): %w", dir, err)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("--peer needs Node.js (node ≥ 18 on PATH; e.g. apt-get install nodejs npm), then: (cd %s && npm ci)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "postgraphile", "package.json")); err == nil {
		return node, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%s/node_modules is missing and npm is not on PATH: install npm, then run: (cd %s && npm ci)", dir, dir)
	}
	fmt.Printf("peer: %s/node_modules is missing: running `npm ci` there (from package-lock.json)\n", dir)
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ictx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm ci in %s failed (%w); run it by hand: (cd %s && npm ci)", dir, err, dir)
	}
	return node, nil
}

// startPeer starts bench/postgraphile/server.js on the database at dbURL
// (passed in the environment, not on the command line) and waits until it
// serves.
func startPeer(ctx context.Context, dir, dbURL string, peers []string, workers, pool int) (*peerProc, error) {
	node, err := peerDeps(ctx, dir)
	if err != nil {
		return nil, err
	}
	var variants []string
	for _, p := range peers {
		variants = append(variants, peerVariant(p))
	}
	cmd := exec.Command(node, "server.js", "--variants", strings.Join(variants, ","),
		"--workers", fmt.Sprint(workers), "--pool", fmt.Sprint(pool))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PASSERELLE_PEER_DATABASE_URL="+dbURL, "NODE_ENV=production")
	setChildAttrs(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peerProc{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, `{"ready":true`) {
				select {
				case ready <- line:
				default:
				}
				continue
			}
			fmt.Fprintln(os.Stderr, "peer:", line)
		}
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(os.Stderr, "peer:", line)
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 20 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		wg.Wait() // the pipes must be drained before Wait
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case line := <-ready:
		var r struct {
			URL          string            `json:"url"`
			Variants     map[string]string `json:"variants"`
			Workers      int               `json:"workers"`
			Pool         int               `json:"pool"`
			PostGraphile string            `json:"postgraphile"`
			Node         string            `json:"node"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || !strings.HasPrefix(r.URL, "http://127.0.0.1:") {
			p.close()
			return nil, fmt.Errorf("peer: unexpected ready line %q", line)
		}
		p.url, p.routes = r.URL, r.Variants
		p.info = fmt.Sprintf("PostGraphile %s on Node.js %s, %d worker process(es), pool of %d per variant and worker",
			r.PostGraphile, r.Node, r.Workers, r.Pool)
		return p, nil
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return nil, fmt.Errorf("the peer exited before serving: %s", strings.Join(p.tail, " | "))
	case <-time.After(2 * time.Minute):
		p.close()
		return nil, errors.New("the peer did not serve within 2 minutes")
	case <-ctx.Done():
		p.close()
		return nil, ctx.Err()
	}
}

// endpoint is the GraphQL URL of a peer contender.
func (p *peerProc) endpoint(peer string) string { return p.url + p.routes[peerVariant(peer)] }

// pid is the peer's main process (its workers are its children).
func (p *peerProc) pid() int { return p.cmd.Process.Pid }

// close stops the peer: SIGTERM (it stops its workers), SIGKILL after 5 s.
func (p *peerProc) close() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// peerOp posts the peer's inbox query for S1's unit with S1's token.
func (t *target) peerOp(p *peerProc, peer string) operation {
	return t.readOp(p.endpoint(peer), t.receiver.token, t.peerBody(t.unitID.String()), pageSize)
}

func (t *target) peerBody(unitID string) []byte {
	return gqlBody(peerInboxDoc, "Inbox", map[string]any{"unitId": unitID, "first": pageSize})
}

// peerPage is the part of the peer's answer the checks compare.
type peerPage struct {
	TotalCount int
	Edges      []struct {
		Node struct {
			ID      string
			Request struct{ Reference string }
		}
	}
}

func (t *target) peerInbox(ctx context.Context, p *peerProc, peer, unitID, token string) (peerPage, error) {
	b, err := t.post(ctx, p.endpoint(peer), token, t.peerBody(unitID))
	if err != nil {
		return peerPage{}, err
	}
	var env struct {
		Data struct{ AllDispatches peerPage }
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return peerPage{}, fmt.Errorf("peer answer: %w", err)
	}
	return env.Data.AllDispatches, nil
}

// checkPeer verifies that each peer contender serves the rows S1 serves:
// the same 50 dispatches in the same order, the same request references
// and the same total count; and, for the row-level-security variant, that
// it shows nothing to a caller without a token or for another unit.
func (t *target) checkPeer(ctx context.Context, p *peerProc, peers []string) error {
	var inbox struct {
		Inbox struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID      string
					Request struct{ Reference string }
				}
			}
		}
	}
	if err := t.gql(ctx, t.receiver.token, inboxDoc, "Inbox", map[string]any{"unitId": t.unitID, "first": pageSize}, &inbox); err != nil {
		return err
	}
	other := ""
	for _, u := range t.units {
		if u != t.unitID {
			other = u.String()
			break
		}
	}
	for _, peer := range peers {
		got, err := t.peerInbox(ctx, p, peer, t.unitID.String(), t.receiver.token)
		if err != nil {
			return fmt.Errorf("%s: %w", peer, err)
		}
		if got.TotalCount != inbox.Inbox.TotalCount || len(got.Edges) != len(inbox.Inbox.Edges) {
			return fmt.Errorf("%s serves %d of %d dispatches, GraphQL %d of %d", peer, len(got.Edges), got.TotalCount,
				len(inbox.Inbox.Edges), inbox.Inbox.TotalCount)
		}
		for i, e := range got.Edges {
			g := inbox.Inbox.Edges[i].Node
			if !strings.EqualFold(e.Node.ID, g.ID) || e.Node.Request.Reference != g.Request.Reference {
				return fmt.Errorf("%s row %d: dispatch %s (%s), GraphQL %s (%s)", peer, i, e.Node.ID,
					e.Node.Request.Reference, g.ID, g.Request.Reference)
			}
		}
		anon, err := t.peerInbox(ctx, p, peer, t.unitID.String(), "")
		if err != nil {
			return fmt.Errorf("%s without a token: %w", peer, err)
		}
		foreign := peerPage{}
		if other != "" {
			if foreign, err = t.peerInbox(ctx, p, peer, other, t.receiver.token); err != nil {
				return fmt.Errorf("%s, another unit: %w", peer, err)
			}
		}
		fmt.Printf("peer %s: same %d rows in the same order and totalCount %d as GraphQL; without a token it serves %d rows (total %d), another unit's inbox to this receiver %d rows (total %d)\n",
			peer, len(got.Edges), got.TotalCount, len(anon.Edges), anon.TotalCount, len(foreign.Edges), foreign.TotalCount)
		if peer == peerRLS && (len(anon.Edges) > 0 || anon.TotalCount > 0 || len(foreign.Edges) > 0 || foreign.TotalCount > 0) {
			return fmt.Errorf("%s: the row rules do not hold (rows without a token or of another unit)", peer)
		}
	}
	return nil
}
