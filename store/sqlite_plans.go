package store

/*
typedef struct sqlite3 sqlite3;
extern int sqlite3_auto_extension(void (*entry)(void));
extern int sqlite3_db_config(sqlite3 *db, int op, ...);

enum { passerelleEnableQPSG = 1007 }; // SQLITE_DBCONFIG_ENABLE_QPSG

static int passerelleStablePlansOn;

// Called by SQLite for every connection it opens in this process.
static int passerelleStablePlans(sqlite3 *db, char **err, const void *api) {
	int on = 0;
	int rc = sqlite3_db_config(db, passerelleEnableQPSG, 1, &on);
	if (rc == 0 && on == 1) {
		__atomic_add_fetch(&passerelleStablePlansOn, 1, __ATOMIC_RELAXED);
	}
	return rc;
}

static int passerelleRegisterStablePlans(void) {
	return sqlite3_auto_extension((void (*)(void))passerelleStablePlans);
}

static int passerelleStablePlansCount(void) {
	return __atomic_load_n(&passerelleStablePlansOn, __ATOMIC_RELAXED);
}
*/
import "C"

import "fmt"

// Every SQLite connection of the process runs with the query planner
// stability guarantee (SQLITE_DBCONFIG_ENABLE_QPSG): a statement's plan does
// not depend on the values bound to it, so a prepared statement is never
// re-prepared because of them.
//
// Without it, the statement cache (sqliteStmtCache) was defeated for most of
// the statements that matter: SQLite 3.54's planner (go-sqlite3 1.14.53
// bundles it; the 3.40 of Debian did not do this) marks a parameter compared
// with "=" outside an index for re-preparation when its value changes to or
// from 0 or 1, and sqlite3_clear_bindings — which go-sqlite3 calls every time
// it resets a statement — expires a statement with any such mark whatever the
// values. So the session statement, and ent's joins and conditional updates,
// were parsed and planned again on every execution: the session statement
// cost 80 µs instead of 20. The plans SQLite gives up are the ones chosen
// from a bound value (a LIKE prefix, a small integer's selectivity); ours do
// not depend on them (EXPLAIN QUERY PLAN is the same either way).
func init() {
	if rc := C.passerelleRegisterStablePlans(); rc != 0 {
		panic(fmt.Sprintf("store: registering the SQLite connection setup failed (code %d)", int(rc)))
	}
}

// stablePlanConnections is how many SQLite connections were opened with
// the planner stability guarantee on (tests).
func stablePlanConnections() int { return int(C.passerelleStablePlansCount()) }
