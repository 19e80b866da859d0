package shardstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// TestCrashDuringMaintenanceSweep crashes reclamation and compaction
// before each of their device writes in turn (random and torn crash
// images), recovers, and checks every key against the model and the
// invariants. Nothing persistent may be lost at any point. The sweep stops
// at the first crash point past the operation's last write.
func TestCrashDuringMaintenanceSweep(t *testing.T) {
	for _, op := range []engine.MaintenanceOp{engine.Reclaim, engine.Compact} {
		for _, pol := range []disk.CrashPolicy{disk.CrashRandom, disk.CrashTorn} {
			t.Run(fmt.Sprintf("%s/%v", op, pol), func(t *testing.T) {
				n := 1
				for ; crashMaintenanceAt(t, op, pol, n); n++ {
					if n > 1000 {
						t.Fatalf("%s issued over 1000 writes on a 4 MiB device", op)
					}
				}
				if n <= 2 {
					t.Fatalf("%s issued %d device writes; the sweep needs at least 2 crash points", op, n-1)
				}
				t.Logf("%s: crashed before each of its %d writes", op, n-1)
			})
		}
	}
}

// crashMaintenanceAt runs op with a crash armed before its n-th device
// write, recovers from the crash image and verifies. It reports false, having
// checked nothing after the crash, when op issued fewer than n writes.
func crashMaintenanceAt(t *testing.T, op engine.MaintenanceOp, pol disk.CrashPolicy, n int) bool {
	t.Helper()
	h := newCrashHarness(t, 4<<20, crashTestOptions())
	setup := func(gen int) {
		for i := range 40 {
			k := fmt.Sprintf("k%03d", i)
			if err := h.put(k, strings.Repeat(fmt.Sprintf("%s.%d.", k, gen), 300)); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.s.Sync(h.ctx); err != nil {
			t.Fatal(err)
		}
		h.synced()
	}
	setup(0)
	setup(1)
	for i := 0; i < 40; i += 3 {
		if err := h.del(fmt.Sprintf("k%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.put("unsynced", "u"); err != nil {
		t.Fatal(err)
	}
	h.dev.arm(n, pol, rand.New(rand.NewPCG(uint64(n), 7)))
	if err := h.s.Maintain(h.ctx, op); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	h.check()
	h.dev.mu.Lock()
	img := h.dev.snap
	h.dev.mu.Unlock()
	if img == nil {
		return false
	}
	h.crash(img)
	h.check()
	if got := h.verify(); !strings.HasPrefix(got, "ok") {
		t.Fatalf("after a crash before write %d of %s:\n%s", n, op, got)
	}
	return true
}

// TestFullDevice fills the device until puts fail with ErrNoSpace, checks
// that every acknowledged key is intact, deletes most keys, reclaims, and
// writes again; CheckInvariants runs after every step, and everything
// survives a reopen.
func TestFullDevice(t *testing.T) {
	ctx := context.Background()
	o := testOptions()
	o.ExtentBytes = 256 << 10
	o.ChunkPayloadMax = 64 << 10
	mem := disk.NewMem(8<<20, 512)
	s, err := Open(mem, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	check := func(when string) {
		t.Helper()
		if err := s.CheckInvariants(); err != nil {
			t.Fatalf("%s: CheckInvariants: %v", when, err)
		}
	}
	val := func(i, gen int) []byte {
		u := fmt.Sprintf("v%d.%d.", i, gen)
		return []byte(strings.Repeat(u, 16<<10/len(u)+1)[:16<<10])
	}
	acked := map[int]int{} // key -> generation acknowledged
	fill := func(gen, from int) int {
		n := 0
		for i := from; ; i++ {
			err := s.Put(ctx, fmt.Appendf(nil, "key%05d", i), val(i, gen))
			if errors.Is(err, engine.ErrNoSpace) {
				t.Logf("generation %d full after %d puts: %v", gen, n, err)
				return n
			}
			if err != nil {
				t.Fatalf("put %d: %v", i, err)
			}
			acked[i] = gen
			n++
			if n%16 == 0 {
				check(fmt.Sprintf("fill %d", i))
			}
			if n > 10000 {
				t.Fatal("the device never filled")
			}
		}
	}
	verify := func(when string) {
		t.Helper()
		for i, gen := range acked {
			got, err := s.Get(ctx, fmt.Appendf(nil, "key%05d", i))
			if gen < 0 {
				if !errors.Is(err, engine.ErrNotFound) {
					t.Fatalf("%s: deleted key%05d: %q, %v", when, i, got, err)
				}
				continue
			}
			if err != nil || string(got) != string(val(i, gen)) {
				t.Fatalf("%s: key%05d: %d bytes, %v", when, i, len(got), err)
			}
		}
	}
	n := fill(0, 0)
	if n < 50 {
		t.Fatalf("only %d puts before the device was full", n)
	}
	t.Logf("%d puts of 16 KiB filled an 8 MiB device", n)
	check("full")
	verify("full")
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("sync on a full device: %v", err)
	}
	for i := range n {
		if i%4 != 0 {
			if err := s.Delete(ctx, fmt.Appendf(nil, "key%05d", i)); err != nil {
				t.Fatalf("delete on a full device: %v", err)
			}
			acked[i] = -1
		}
	}
	check("deleted")
	if err := s.Maintain(ctx, engine.Reclaim); err != nil {
		t.Fatalf("reclaim: %v", err)
	}
	check("reclaimed")
	verify("reclaimed")
	m := fill(1, n)
	if m < n/2 {
		t.Fatalf("after deleting 3/4 of %d keys and reclaiming, only %d puts fit", n, m)
	}
	t.Logf("%d more puts after deletes and reclamation", m)
	check("refilled")
	verify("refilled")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(mem, o); err != nil {
		t.Fatal(err)
	}
	check("reopened")
	verify("reopened")
}
