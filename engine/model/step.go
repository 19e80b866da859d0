package model

// KeyOp is an operation on one key, as the specification sees it.
type KeyOp uint8

// The operations on one key.
const (
	KeyGet    KeyOp = iota // read the key
	KeyPut                 // store a value under the key
	KeyDelete              // remove the key
)

func (op KeyOp) String() string {
	switch op {
	case KeyGet:
		return "get"
	case KeyPut:
		return "put"
	case KeyDelete:
		return "delete"
	}
	return "KeyOp(?)"
}

// Step is the specification of one operation on one key, as a pure
// function: a key holding v, given op (and value, for a put), holds next
// afterwards, and the op reads read (what a Get returns; the new version
// for a write). Store applies every Get, Put and Delete through it, and
// checkers that need the semantics of one key without a Store (the
// linearizability checker's porcupine model, whose states are one key's
// versions) call it too, so there is one specification.
//
// Step neither copies nor keeps value: a put's next version holds value
// itself (an empty non-nil slice for a nil one, as an empty value is
// present).
func Step(v Version, op KeyOp, value []byte) (next, read Version) {
	switch op {
	case KeyGet:
		return v, v
	case KeyPut:
		if value == nil {
			value = []byte{}
		}
		next = Version{Present: true, Value: value}
		return next, next
	case KeyDelete:
		return Version{}, Version{}
	}
	panic("model: Step: unknown op " + op.String())
}
