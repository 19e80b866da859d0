package astmut

// Operator names one kind of mutation. Its value is the stable spelling used
// in mutant IDs and reports; renaming one changes every ID that carries it.
type Operator string

const (
	// ConditionalBoundary moves a comparison's boundary by one:
	// < ↔ <= and > ↔ >=. It finds off-by-one bugs in bounds checks.
	ConditionalBoundary Operator = "conditional-boundary"

	// NegatedConditional negates a comparison: == ↔ !=, < ↔ >=, > ↔ <=.
	// `if err != nil` becomes `if err == nil` here, not under ErrorNil.
	NegatedConditional Operator = "negated-conditional"

	// Arithmetic swaps an arithmetic operator: + ↔ -, * ↔ /, % → *, and the
	// assignment forms *= ↔ /=, %= → *=. A + whose operand is a string
	// literal is skipped: it could only give a mutant that does not compile.
	Arithmetic Operator = "arithmetic"

	// IncrementDecrement swaps ++ ↔ -- and += ↔ -=.
	IncrementDecrement Operator = "increment-decrement"

	// InvertedLogic swaps && ↔ || and drops a logical not (!x → x).
	InvertedLogic Operator = "inverted-logic"

	// RemovedCall deletes a call statement such as f.Sync() or mu.Unlock():
	// the call goes, the evaluation of its callee and arguments stays.
	// `f.Write(p)` becomes `_, _ = f.Write, p` (a method value, not a call),
	// so no variable or import loses its only use and the argument
	// expressions keep their own effects, whatever the call returns (knowing
	// that would need type-checking the package with its dependencies). A
	// builtin (close, delete, copy, ...) or a generic function without type
	// arguments cannot be a value: only the arguments are kept, and a call
	// with nothing to keep becomes an empty statement. An untyped nil
	// argument and a literal are dropped. panic is never removed: dropping an assertion is
	// a different kind of change, and usually leaves a function without its
	// terminating statement.
	RemovedCall Operator = "removed-call"

	// RemovedAssignment deletes the store of an assignment (=, +=, ...):
	// `x = f()` becomes `_ = f()`, so the right-hand side is still evaluated
	// (its calls keep their effects) and still uses its operands. A
	// declaration (:=) is never removed: later uses would not compile.
	RemovedAssignment Operator = "removed-assignment"

	// LoopControl swaps break ↔ continue where the statement belongs to a
	// loop: an unlabelled break or continue whose innermost enclosing
	// for, switch or select is a for, or a labelled one whose label names a
	// loop.
	LoopControl Operator = "loop-control"

	// ErrorNil replaces the error a function returns by nil:
	// `return v, err` → `return v, nil`, in a function whose last result is
	// declared `error`. It mirrors a dropped error path.
	ErrorNil Operator = "error-nil"
)

// Operators returns every operator, in a fixed order (the order of their
// documentation). The slice is fresh: the caller may modify it.
func Operators() []Operator {
	return []Operator{
		ConditionalBoundary,
		NegatedConditional,
		Arithmetic,
		IncrementDecrement,
		InvertedLogic,
		RemovedCall,
		RemovedAssignment,
		LoopControl,
		ErrorNil,
	}
}

// valid reports whether op is one of Operators.
func (op Operator) valid() bool {
	for _, o := range Operators() {
		if o == op {
			return true
		}
	}
	return false
}
