package gate

import "testing"

func TestCloseWaitsForOperationsAndRefusesNewOnes(t *testing.T) {
	var g Gate
	g.Init()
	if !g.Enter() {
		t.Fatal("an open gate refused an operation")
	}
	closed := make(chan bool)
	go func() { closed <- g.Close() }()
	// Once Close has set the closed bit, a new Enter is refused at once
	// (it never blocks behind the waiting Close). Wait for that.
	for g.Enter() {
		g.Exit()
	}
	if !g.Closing() {
		t.Fatal("Closing is false after Enter was refused")
	}
	select {
	case <-closed:
		t.Fatal("Close returned while an operation was still inside")
	default:
	}
	g.Exit()
	if ok := <-closed; !ok {
		t.Fatal("first Close reported the gate already closed")
	}
	if g.Close() {
		t.Fatal("second Close reported success")
	}
	if g.Enter() {
		t.Fatal("a closed gate admitted an operation")
	}
}

func TestCloseOfIdleGateDoesNotBlock(t *testing.T) {
	var g Gate
	g.Init()
	g.Enter()
	g.Exit()
	if !g.Close() {
		t.Fatal("Close of an idle gate failed")
	}
}
