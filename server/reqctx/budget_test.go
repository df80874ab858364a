package reqctx

import "testing"

func TestBudget(t *testing.T) {
	b := NewBudget(2)
	if !b.Acquire() || !b.Acquire() {
		t.Fatal("two places expected")
	}
	if b.Acquire() {
		t.Fatal("a third subscription got in")
	}
	b.Release()
	if !b.Acquire() {
		t.Fatal("a released place was not given back")
	}
}
