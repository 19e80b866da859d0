package shardstore

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/enginetest"
)

// TestValueCache: a get of a small value just put is answered from the
// memtable's copy without reading a chunk; the copy follows puts and
// deletes of the key, a caller may modify what Get returned, values over
// ValueCacheValueMax and values in a memtable written out are read from
// their chunks, and ValueCacheBytes < 0 keeps nothing.
func TestValueCache(t *testing.T) {
	ctx := t.Context()
	s, err := Open(disk.NewMem(64<<20, 512), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	metric := func(name string) float64 { return s.Stats().Metrics[name] }
	get := func(k string, want []byte) {
		t.Helper()
		got, err := s.Get(ctx, []byte(k))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("get %q = %.10q, %v; want %.10q", k, got, err, want)
		}
		if err := s.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	}
	// served reports how a get of k went: from the memtable's copy or
	// from chunks.
	served := func(k string, want []byte) (fromCopy bool) {
		t.Helper()
		hits, chunks := metric("value_cache_hits"), metric("chunk_gets")
		get(k, want)
		dh, dc := metric("value_cache_hits")-hits, metric("chunk_gets")-chunks
		if !(dh == 1 && dc == 0) && !(dh == 0 && dc >= 1) {
			t.Fatalf("get %q: %v copy hits and %v chunk reads", k, dh, dc)
		}
		return dh == 1
	}
	if err := s.Put(ctx, []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if !served("k", []byte("v1")) {
		t.Fatal("a value just put was read from its chunk")
	}
	got, _ := s.Get(ctx, []byte("k"))
	got[0] = 'X'
	if err := s.Put(ctx, []byte("k"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if !served("k", []byte("v2")) {
		t.Fatal("the value put over it was read from its chunk")
	}
	if err := s.Delete(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, []byte("k")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	big := bytes.Repeat([]byte{7}, ValueCacheValueMax+1)
	if err := s.Put(ctx, []byte("big"), big); err != nil {
		t.Fatal(err)
	}
	if served("big", big) {
		t.Fatal("a value over ValueCacheValueMax was kept")
	}
	if err := s.Put(ctx, []byte("k"), []byte("v3")); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil { // the memtable is written out
		t.Fatal(err)
	}
	if served("k", []byte("v3")) {
		t.Fatal("a value of a memtable written out was served from a copy")
	}
	if metric("value_cache_bytes") != 0 {
		t.Fatalf("value_cache_bytes %v after the memtable was written out", metric("value_cache_bytes"))
	}

	o := testOptions()
	o.ValueCacheBytes = -1
	s2, err := Open(disk.NewMem(64<<20, 512), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := s2.Get(ctx, []byte("k")); err != nil || string(v) != "v" || s2.Stats().Metrics["value_cache_hits"] != 0 {
		t.Fatalf("ValueCacheBytes -1: get = %q, %v, %v copy hits", v, err, s2.Stats().Metrics["value_cache_hits"])
	}
}

// TestEngineMemNoValueCache is TestEngineMem with every get reading its
// chunks.
func TestEngineMemNoValueCache(t *testing.T) {
	o := testOptions()
	o.ValueCacheBytes = -1
	enginetest.Run(t, enginetest.Config{Open: memOpener(o), InMemory: true})
}
