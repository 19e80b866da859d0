package workloads

import (
	"context"
	"errors"
	"fmt"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// ErrCheckerOp marks an op that only a checker can run (CleanReboot,
// DirtyReboot, FailDiskOnce): Apply returns an error wrapping it, and the
// checker, which owns the engine's lifecycle and device, runs the op itself.
var ErrCheckerOp = errors.New("run by the checker, not by Apply")

// Result is what Apply observed.
type Result struct {
	// Found reports whether Get or ReadModifyWrite found the key.
	Found bool
	// Value is what Get or ReadModifyWrite read (the engine's slice; the
	// caller may keep or modify it).
	Value []byte
	// Keys counts the keys List visited.
	Keys int
	// Bytes counts the bytes the op moved between the caller and the
	// engine: the value a Get found, the value a Put or Insert wrote (Size),
	// both for ReadModifyWrite, the keys a List visited. Delete and
	// maintenance move none. It is what a benchmark reports as throughput.
	Bytes int
}

// Apply runs op against e. buf is scratch space for the value of a write:
// if it holds op.Size bytes no allocation happens (Workload.ValueBytesMax
// sizes it). A Get of an absent key is a result (Found false), not an
// error. List needs engine.Lister and maintenance ops engine.Maintainer;
// without them Apply returns an error wrapping errors.ErrUnsupported.
// Reboots and disk faults return an error wrapping ErrCheckerOp.
func Apply(ctx context.Context, e engine.Engine, op Op, buf []byte) (Result, error) {
	var value []byte
	if op.Kind.Writes() {
		value = op.Value(buf)
	}
	return ApplyValue(ctx, e, op, value)
}

// ApplyValue is Apply with the value of a write already made: value must
// be op.Value(...) (nil for an op that writes none). A benchmark makes the
// value before it starts the op's clock, so that filling it is not counted
// as the engine's latency; everything else is Apply's, so that a benchmark
// and a checker mean the same thing by an op.
func ApplyValue(ctx context.Context, e engine.Engine, op Op, value []byte) (Result, error) {
	var r Result
	switch op.Kind {
	case OpGet:
		v, err := e.Get(ctx, op.Key)
		if err == nil { // first: the bench's hot path
			return Result{Found: true, Value: v, Bytes: len(v)}, nil
		}
		if errors.Is(err, engine.ErrNotFound) {
			return r, nil
		}
		return r, err
	case OpPut, OpInsert:
		return Result{Bytes: len(value)}, e.Put(ctx, op.Key, value)
	case OpReadModifyWrite:
		// As YCSB: read the record, then write a new value whether or not
		// the read found it.
		v, err := e.Get(ctx, op.Key)
		switch {
		case err == nil:
			r = Result{Found: true, Value: v}
		case !errors.Is(err, engine.ErrNotFound):
			return r, err
		}
		r.Bytes = len(r.Value) + len(value)
		return r, e.Put(ctx, op.Key, value)
	case OpDelete:
		return r, e.Delete(ctx, op.Key)
	case OpList:
		return list(ctx, e, op)
	case OpIndexFlush, OpCompact, OpReclaim, OpSuperblockFlush, OpCacheFlush:
		m, ok := e.(engine.Maintainer)
		if !ok {
			return r, fmt.Errorf("workloads: %v: engine %T does not implement engine.Maintainer: %w", op.Kind, e, errors.ErrUnsupported)
		}
		return r, m.Maintain(ctx, maintenanceOp(op.Kind))
	case OpCleanReboot, OpDirtyReboot, OpFailDiskOnce:
		return r, fmt.Errorf("workloads: %v: %w", op.Kind, ErrCheckerOp)
	}
	return r, fmt.Errorf("workloads: op kind %v unknown: %w", op.Kind, errors.ErrUnsupported)
}

// list is ApplyValue's List. It is a function of its own because the
// callback's counters escape to the heap: kept here, they cost an
// allocation per List, not per op.
func list(ctx context.Context, e engine.Engine, op Op) (Result, error) {
	var r Result
	l, ok := e.(engine.Lister)
	if !ok {
		return r, fmt.Errorf("workloads: list: engine %T does not implement engine.Lister: %w", e, errors.ErrUnsupported)
	}
	err := ListKeys(ctx, l, op, func(k []byte) bool {
		r.Keys++
		r.Bytes += len(k)
		return true
	})
	return r, err
}

// ListKeys calls fn for the keys op (an OpList) lists from l, in order,
// until fn returns false: at most op.ScanLen of them, through ListN when l
// is an engine.BoundedLister, so that the engine merges no more than the
// scan wants.
func ListKeys(ctx context.Context, l engine.Lister, op Op, fn func(key []byte) bool) error {
	if op.ScanLen < 0 {
		return fmt.Errorf("workloads: list of %d keys: %w", op.ScanLen, engine.ErrInvalidArgument)
	}
	if b, ok := l.(engine.BoundedLister); ok && op.ScanLen > 0 {
		return b.ListN(ctx, op.Key, op.End, op.ScanLen, fn)
	}
	seen := 0
	return l.List(ctx, op.Key, op.End, func(k []byte) bool {
		seen++
		return fn(k) && op.ListMore(seen)
	})
}

// maintenanceOp maps a maintenance kind to the engine's name for it.
func maintenanceOp(k OpKind) engine.MaintenanceOp {
	switch k {
	case OpIndexFlush:
		return engine.IndexFlush
	case OpCompact:
		return engine.Compact
	case OpReclaim:
		return engine.Reclaim
	case OpSuperblockFlush:
		return engine.SuperblockFlush
	case OpCacheFlush:
		return engine.CacheFlush
	}
	panic(fmt.Sprintf("workloads: %v is not a maintenance op", k))
}

// Replay applies every op of tr to e in order and stops at the first error,
// naming the op and its trace line. Absent keys are not errors. A trace
// holding reboots or disk faults is a checker's to replay: Replay stops
// there with an error wrapping ErrCheckerOp.
func Replay(ctx context.Context, e engine.Engine, tr Trace) error {
	var buf []byte
	for i, op := range tr.Ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		if op.Kind.Writes() && cap(buf) < op.Size {
			buf = make([]byte, op.Size)
		}
		if _, err := Apply(ctx, e, op, buf); err != nil {
			line := 0
			if i < len(tr.Lines) {
				line = tr.Lines[i]
			}
			return fmt.Errorf("workloads: replay op %d (trace line %d: %s): %w", i, line, clip(op.String()), err)
		}
	}
	return nil
}
