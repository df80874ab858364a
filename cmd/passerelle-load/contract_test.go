package main

import (
	"os"
	"strings"
	"testing"
)

// TestDocumentsAreTheContract: the load tool sends the client contract's
// documents unchanged (and the dashboard query of the statement tests).
func TestDocumentsAreTheContract(t *testing.T) {
	contract, err := os.ReadFile("../../e2e/testdata/operations.graphql")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{loginDoc, inboxDoc, statisticsDoc, createDoc, saveMedicalDoc, validateDoc,
		saveCareDoc, saveAdminDoc, sendDoc, answerDoc, confirmDoc} {
		if !strings.Contains(string(contract), doc) {
			t.Errorf("not in the contract:\n%s", doc)
		}
	}
	statements, err := os.ReadFile("../../e2e/statements_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(statements), dashboardDoc) {
		t.Error("the dashboard query differs from e2e/statements_test.go")
	}
}

func TestThreeUnitsAreDistinct(t *testing.T) {
	units := make([]uuidT, 24)
	for i := range units {
		units[i][0] = byte(i)
	}
	for n := range 5000 {
		u := threeUnits(units, n)
		if u[0] == u[1] || u[1] == u[2] || u[0] == u[2] {
			t.Fatalf("iteration %d: %v", n, u)
		}
	}
}

func TestRebind(t *testing.T) {
	if got := rebind(true, "a = ? AND b IN (?, ?)"); got != "a = $1 AND b IN ($2, $3)" {
		t.Fatal(got)
	}
	if got := rebind(false, "a = ?"); got != "a = ?" {
		t.Fatal(got)
	}
}
