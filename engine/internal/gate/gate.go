// Package gate is the admission gate peer.Engine (engine/internal/peer)
// puts in front of every peer adapter's library: it admits operations until
// Close, and lets Close wait for the ones in flight.
package gate

import "sync/atomic"

// Gate admits operations until it is closed. Unlike an RWMutex, an
// operation entered from inside another (a List callback calling Get) never
// blocks behind a waiting Close: it is refused at once, so Close cannot
// deadlock. It costs one atomic add on the way in and one on the way out.
// Call Init before use.
type Gate struct {
	// state is closedBit, once closed, plus the number of operations inside.
	state atomic.Int64
	// drained receives a token when the last operation leaves a closed gate.
	drained chan struct{}
}

const closedBit = 1 << 62

// Init prepares the gate; it must be called once before any other method.
func (g *Gate) Init() { g.drained = make(chan struct{}, 1) }

// Enter admits an operation, or reports false once the gate is closed.
func (g *Gate) Enter() bool {
	if g.state.Add(1)&closedBit != 0 {
		g.Exit()
		return false
	}
	return true
}

// Exit ends an operation admitted by Enter.
func (g *Gate) Exit() {
	if g.state.Add(-1) == closedBit {
		select {
		case g.drained <- struct{}{}:
		default: // Close is not waiting or already has its token
		}
	}
}

// Close shuts the gate and waits until every admitted operation has left.
// It reports false if the gate was already closed.
func (g *Gate) Close() bool {
	old := g.state.Or(closedBit)
	if old&closedBit != 0 {
		return false
	}
	if old != 0 {
		<-g.drained
	}
	return true
}

// Closing reports whether Close has been called (it may still be waiting
// for operations to leave).
func (g *Gate) Closing() bool { return g.state.Load()&closedBit != 0 }
