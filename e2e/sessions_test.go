package e2e

// The embedded SQLite file as the command opens it (store.SQLiteDSN: WAL,
// busy timeout, immediate write transactions) under concurrent writers
// coming through the real handler: sign-ins (session rows), request
// creations (the shared reference counter), confirms and section saves.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"passerelle/app"
	"passerelle/demo"
	"passerelle/store"
)

// newFileEnv runs the server on a fresh SQLite file in t.TempDir().
func newFileEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(c *app.Config) {
		c.Store.DatabaseURL = store.SQLiteDSN(filepath.Join(t.TempDir(), "passerelle.db"))
	})
}

func TestSessionSQLiteFileConcurrentWriters(t *testing.T) {
	e := newFileEnv(t)

	var mode string
	if err := e.app.DB.SQL.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(mode, "wal") {
		t.Fatalf("journal_mode is %q, want wal", mode)
	}

	t.Run("sign-ins and activity", func(t *testing.T) {
		accounts := []string{prescriber, careTeam, adminSocial, referent, pompidou, coordinator, nonMedical,
			liberal, perineDoctor, perineStaff, garnierDoc, forcillesDoc, support, observer}
		outs := concurrently(len(accounts), func(i int) outcome {
			who := accounts[i%len(accounts)]
			r, st, err := gqlDo(e.srv.URL, "", "", contract, "Login", map[string]any{"email": who, "password": demo.Password})
			if err != nil || len(r.Errors) > 0 {
				return outcome{arg: "login " + who, r: r, status: st, err: err}
			}
			tok := str(r.Data, "login.token")
			for _, op := range []string{"Viewer", "Logout"} {
				r, st, err = gqlDo(e.srv.URL, "", tok, contract, op, nil)
				if err != nil || len(r.Errors) > 0 {
					return outcome{arg: op + " " + who, r: r, status: st, err: err}
				}
			}
			return outcome{arg: who, r: r, status: st}
		})
		for _, o := range outs {
			if o.err != nil || len(o.r.Errors) > 0 {
				t.Errorf("%s: %v %+v", o.arg, o.err, o.r.Errors)
			}
		}
	})

	t.Run("request creations", func(t *testing.T) {
		dia := e.structureID(prescriber)
		toks := map[string]string{prescriber: e.token(prescriber), careTeam: e.token(careTeam)}
		outs := concurrently(12, func(i int) outcome {
			who := []string{prescriber, careTeam}[i%2]
			r, st, err := gqlDo(e.srv.URL, "", toks[who], contract, "CreateRequest", map[string]any{"input": map[string]any{
				"originStructureId": dia, "urgency": "WITHIN_WEEK",
				"patient": map[string]any{"birthName": fmt.Sprintf("Concurrent%02d", i), "firstName": "Anne", "birthDate": "1944-02-02", "sex": "FEMALE"},
			}})
			return outcome{arg: who, r: r, status: st, err: err}
		})
		refs := map[string]bool{}
		for i, o := range outs {
			if o.err != nil || len(o.r.Errors) > 0 {
				t.Fatalf("create %d as %s: %v %+v", i, o.arg, o.err, o.r.Errors)
			}
			ref := str(o.r.Data, "createAdmissionRequest.request.reference")
			if refs[ref] {
				t.Fatalf("reference %s given twice", ref)
			}
			refs[ref] = true
		}
	})

	t.Run("confirms", func(t *testing.T) { confirmRaces(t, e, 3) })
	t.Run("section saves", func(t *testing.T) { sectionSaveRaces(t, e) })
}

// TestConcurrentCreates: creating requests at once never conflicts (each
// gets its own reference), on the default test database.
func TestConcurrentCreates(t *testing.T) {
	e := newEnvWith(t, nil)
	dia := e.structureID(prescriber)
	tok := e.token(careTeam)
	outs := concurrently(8, func(i int) outcome {
		r, st, err := gqlDo(e.srv.URL, "", tok, contract, "CreateRequest", map[string]any{"input": map[string]any{
			"originStructureId": dia, "urgency": "PLANNED",
			"patient": map[string]any{"birthName": fmt.Sprintf("Parallele%02d", i), "firstName": "Luc", "birthDate": "1939-09-09", "sex": "MALE"},
		}})
		return outcome{arg: fmt.Sprint(i), r: r, status: st, err: err}
	})
	refs := map[string]bool{}
	internal := 0
	for i, o := range outs {
		if o.err != nil {
			t.Fatal(o.err)
		}
		switch o.r.code() {
		case "":
			ref := str(o.r.Data, "createAdmissionRequest.request.reference")
			if refs[ref] {
				t.Fatalf("reference %s given twice", ref)
			}
			refs[ref] = true
		case "INTERNAL":
			internal++
			if !sharedCacheSQLite(e) {
				t.Errorf("create %d: %+v", i, o.r.Errors)
			}
		default:
			t.Errorf("create %d: want success, got %+v", i, o.r.Errors)
		}
	}
	skipIfLockBug(t, e, internal)
}
