package server

import (
	"testing"

	"github.com/google/uuid"
)

func TestConnCounter(t *testing.T) {
	var c connCounter
	alice, bob := uuid.New(), uuid.New()
	if !c.acquire(alice, 2) || !c.acquire(alice, 2) {
		t.Fatal("two connections expected")
	}
	if c.acquire(alice, 2) {
		t.Fatal("a third connection got in")
	}
	if !c.acquire(bob, 2) {
		t.Fatal("bob is limited by alice's connections")
	}
	c.release(alice)
	if !c.acquire(alice, 2) {
		t.Fatal("a closed connection was not counted out")
	}
	c.release(alice)
	c.release(alice)
	c.release(bob)
	if len(c.n) != 0 {
		t.Fatalf("counter keeps users without connections: %v", c.n)
	}
}
