package bbolt

import "sync/atomic"

// gate admits operations until close, and lets close wait for the ones in
// flight. Unlike an RWMutex it lets an operation re-enter (a List callback
// may call Get) while a Close is waiting, and costs one atomic add on the way
// in and one on the way out.
type gate struct {
	// state is closedBit, once closed, plus the number of operations inside.
	state atomic.Int64
	// drained receives a token when the last operation leaves a closed gate.
	drained chan struct{}
}

const closedBit = 1 << 62

func (g *gate) init() { g.drained = make(chan struct{}, 1) }

// enter admits an operation, or reports false once the gate is closed.
func (g *gate) enter() bool {
	if g.state.Add(1)&closedBit != 0 {
		g.exit()
		return false
	}
	return true
}

// exit ends an operation admitted by enter.
func (g *gate) exit() {
	if g.state.Add(-1) == closedBit {
		select {
		case g.drained <- struct{}{}:
		default: // close is not waiting or already has its token
		}
	}
}

// close shuts the gate and waits until every admitted operation has left. It
// reports false if the gate was already closed.
func (g *gate) close() bool {
	old := g.state.Or(closedBit)
	if old&closedBit != 0 {
		return false
	}
	if old != 0 {
		<-g.drained
	}
	return true
}
