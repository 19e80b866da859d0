package model_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/enginetest"
	"github.com/gauntlet-kv/gauntlet/engine/model"
)

func TestContract(t *testing.T) {
	enginetest.Run(t, enginetest.Config{
		Open: func(dir string) (engine.Engine, error) { return model.Open(dir) },
	})
}

var ctx = context.Background()

func v(s string) model.Version { return model.Version{Present: true, Value: []byte(s)} }

func TestCrashAllowsPersistentOrLater(t *testing.T) {
	m := model.New()
	m.Put(ctx, []byte("a"), []byte("a1"))
	m.Put(ctx, []byte("b"), []byte("b1"))
	m.Sync(ctx)
	m.Put(ctx, []byte("a"), []byte("a2"))
	m.Delete(ctx, []byte("a"))
	m.Put(ctx, []byte("c"), []byte("c1"))

	got := m.Crash()
	want := map[string][]model.Version{
		"a": {v("a1"), v("a2"), {}},
		"b": {v("b1")},
		"c": {{}, v("c1")},
	}
	if len(got) != len(want) {
		t.Fatalf("Crash() has %d keys, want %d: %v", len(got), len(want), got)
	}
	for k, vs := range want {
		if len(got[k]) != len(vs) {
			t.Fatalf("Crash()[%q] = %v, want %v", k, got[k], vs)
		}
		for i := range vs {
			if !got[k][i].Equal(vs[i]) {
				t.Fatalf("Crash()[%q] = %v, want %v", k, got[k], vs)
			}
		}
	}
	if m.Allowed([]byte("b"), model.Version{}) {
		t.Errorf("b was persistent; absent must not be allowed")
	}
	if !m.Allowed([]byte("never"), model.Version{}) || m.Allowed([]byte("never"), v("x")) {
		t.Errorf("a never-written key must be absent after a crash")
	}
}

func TestPersistSupersedesEarlierWrites(t *testing.T) {
	m := model.New()
	d1, _ := m.PutDep([]byte("k"), []byte("1"))
	d2, _ := m.PutDep([]byte("k"), []byte("2"))
	d3, _ := m.PutDep([]byte("k"), []byte("3"))
	m.Persist(d2)
	if !d1.IsPersistent() || !d2.IsPersistent() || d3.IsPersistent() {
		t.Fatalf("after Persist(d2): d1=%v d2=%v d3=%v, want true true false", d1.IsPersistent(), d2.IsPersistent(), d3.IsPersistent())
	}
	if m.Allowed([]byte("k"), v("1")) {
		t.Errorf("version 1 was superseded by persistent version 2; it must not be allowed after a crash")
	}
	if !m.Allowed([]byte("k"), v("2")) || !m.Allowed([]byte("k"), v("3")) {
		t.Errorf("versions 2 (persistent) and 3 (later) must be allowed")
	}
}

func TestRecover(t *testing.T) {
	m := model.New()
	m.Put(ctx, []byte("a"), []byte("a1"))
	m.Sync(ctx)
	d, _ := m.PutDep([]byte("a"), []byte("a2"))
	m.Put(ctx, []byte("b"), []byte("b1"))

	if err := m.Recover(map[string]model.Version{"a": v("zzz")}); err == nil {
		t.Fatalf("Recover accepted a value that was never written")
	}
	if err := m.Recover(map[string]model.Version{}); err == nil {
		t.Fatalf("Recover accepted losing a's persistent value")
	}
	if err := m.Recover(map[string]model.Version{"a": v("a2")}); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if d.IsPersistent() {
		// a2 survived, but the dependency itself never became persistent
		// before the crash: the handle from before must not claim it did.
		t.Errorf("a dependency from before the crash reports persistent")
	}
	if got, err := m.Get(ctx, []byte("a")); err != nil || string(got) != "a2" {
		t.Fatalf("get a after recover = %q, %v", got, err)
	}
	if _, err := m.Get(ctx, []byte("b")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("b was not observed after the crash; get b = %v, want ErrNotFound", err)
	}
	if got := m.Crash(); len(got["a"]) != 1 || !got["a"][0].Equal(v("a2")) {
		t.Fatalf("after recover everything is persistent; Crash() = %v", got)
	}
}

func TestSnapshotSurvivesOnlySyncedState(t *testing.T) {
	dir := t.TempDir()
	m, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Put(ctx, []byte("synced"), []byte("1"))
	m.Sync(ctx)
	m.Put(ctx, []byte("unsynced"), []byte("2"))
	// Simulate a process kill: reopen without Close.
	m2, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m2.Get(ctx, []byte("synced")); err != nil || string(got) != "1" {
		t.Fatalf("synced key after reopen = %q, %v", got, err)
	}
	if _, err := m2.Get(ctx, []byte("unsynced")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("unsynced key after kill = %v, want ErrNotFound", err)
	}
}

func TestCorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	m, _ := model.Open(dir)
	m.Put(ctx, []byte("k"), []byte("v"))
	m.Close()
	path := filepath.Join(dir, model.SnapshotFile)
	b, _ := os.ReadFile(path)
	for _, bad := range [][]byte{b[:len(b)-1], append([]byte("x"), b[1:]...), func() []byte { c := append([]byte{}, b...); c[10] ^= 1; return c }()} {
		os.WriteFile(path, bad, 0o644)
		if _, err := model.Open(dir); !errors.Is(err, engine.ErrCorruption) {
			t.Errorf("open on a damaged snapshot: %v, want ErrCorruption", err)
		}
	}
}

// TestLatestIsGetWithoutCopy checks that Latest agrees with Get through
// writes, syncs and a recovery, and that Get still returns a copy the caller
// may modify.
func TestLatestIsGetWithoutCopy(t *testing.T) {
	m := model.New()
	check := func(key string) {
		t.Helper()
		got, err := m.Get(ctx, []byte(key))
		want := model.Version{Present: err == nil, Value: got}
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if l := m.Latest([]byte(key)); !l.Equal(want) {
			t.Fatalf("Latest(%q) = %v, Get = %v", key, l, want)
		}
	}
	check("a")
	m.Put(ctx, []byte("a"), []byte("a1"))
	check("a")
	m.Sync(ctx)
	m.Put(ctx, []byte("a"), []byte("a2"))
	m.Put(ctx, []byte("b"), []byte{})
	check("a")
	check("b")
	if l := m.Latest([]byte("b")); !l.Present || len(l.Value) != 0 {
		t.Fatalf("Latest(b) = %v, want present and empty", l)
	}
	got, _ := m.Get(ctx, []byte("a"))
	got[0] = 'X' // the caller owns what Get returns
	if l := m.Latest([]byte("a")); string(l.Value) != "a2" {
		t.Fatalf("modifying Get's result changed the model: Latest(a) = %v", l)
	}
	m.Delete(ctx, []byte("a"))
	check("a")
	if err := m.Recover(map[string]model.Version{"a": v("a1")}); err != nil {
		t.Fatal(err)
	}
	check("a")
	check("b")
}

// TestStep pins the one-key specification Store applies and the
// linearizability checker's model shares.
func TestStep(t *testing.T) {
	absent, v1, v2 := model.Version{}, model.Version{Present: true, Value: []byte("1")}, model.Version{Present: true, Value: []byte("2")}
	empty := model.Version{Present: true, Value: []byte{}}
	for _, c := range []struct {
		v          model.Version
		op         model.KeyOp
		value      []byte
		next, read model.Version
	}{
		{absent, model.KeyGet, nil, absent, absent},
		{v1, model.KeyGet, nil, v1, v1},
		{absent, model.KeyPut, []byte("1"), v1, v1},
		{v1, model.KeyPut, []byte("2"), v2, v2},
		{v1, model.KeyPut, nil, empty, empty}, // an empty value is present
		{v1, model.KeyDelete, nil, absent, absent},
		{absent, model.KeyDelete, nil, absent, absent},
	} {
		next, read := model.Step(c.v, c.op, c.value)
		if !next.Equal(c.next) || !read.Equal(c.read) || next.Present && next.Value == nil {
			t.Errorf("Step(%v, %s, %q) = %v, %v; want %v, %v", c.v, c.op, c.value, next, read, c.next, c.read)
		}
	}
}
