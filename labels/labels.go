// Package labels holds the French labels shown to people for the API's
// enumerations (whose values are English identifiers). The labels are data,
// in labels.json, keyed by enum type then value:
//
//	{"RequestStatus": {"DRAFT": "Brouillon", …}, …}
//
// Package enums defines the types and values; this package only names them.
package labels

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
)

//go:embed labels.json
var labelsJSON []byte

// table is parsed once at init; a malformed labels.json is a build-time
// mistake, so it panics (the tests catch it first).
var table = mustParse(labelsJSON)

func mustParse(data []byte) map[string]map[string]string {
	var m map[string]map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		panic(fmt.Sprintf("labels: invalid labels.json: %v", err))
	}
	return m
}

// Label returns the French label of value in enum type enumType (for example
// Label("RequestStatus", "SENT") returns "Envoyée", true), and false when
// either is unknown.
func Label(enumType, value string) (string, bool) {
	l, ok := table[enumType][value]
	return l, ok
}

// All returns a copy of every label, keyed by enum type then value. Callers
// may modify the result freely.
func All() map[string]map[string]string {
	out := make(map[string]map[string]string, len(table))
	for typ, values := range table {
		c := make(map[string]string, len(values))
		for v, l := range values {
			c[v] = l
		}
		out[typ] = c
	}
	return out
}

// Types returns the enum type names that have labels, sorted.
func Types() []string {
	types := make([]string, 0, len(table))
	for typ := range table {
		types = append(types, typ)
	}
	sort.Strings(types)
	return types
}
