package workloads

import (
	"bytes"
	"fmt"
	"testing"
)

func TestOpKinds(t *testing.T) {
	for _, k := range OpKinds() {
		got, ok := ParseOpKind(k.String())
		if !ok || got != k {
			t.Errorf("ParseOpKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
	if s := OpKind(200).String(); s != "OpKind(200)" {
		t.Errorf("unknown kind prints %q", s)
	}
	if _, ok := ParseOpKind("OpKind(200)"); ok {
		t.Errorf("parsed an unknown kind")
	}
}

func TestFillValue(t *testing.T) {
	a := make([]byte, 1000)
	b := make([]byte, 1000)
	FillValue(a, 42)
	FillValue(b, 42)
	if !bytes.Equal(a, b) {
		t.Fatal("FillValue is not deterministic")
	}
	// A shorter value is a prefix of a longer one with the same seed,
	// including lengths that are not whole words.
	for _, n := range []int{0, 1, 7, 8, 9, 999} {
		c := make([]byte, n)
		FillValue(c, 42)
		if !bytes.Equal(c, a[:n]) {
			t.Errorf("FillValue of %d bytes is not a prefix of 1000", n)
		}
	}
	FillValue(b, 43)
	if bytes.Equal(a, b) {
		t.Error("seeds 42 and 43 give the same value")
	}
	// Pinned: the bytes are part of the trace format.
	if got := fmt.Sprintf("%x", a[:12]); got != pinnedFill {
		t.Errorf("FillValue(42) starts %s, pinned %s", got, pinnedFill)
	}
	// Whole values pinned too, at lengths that end inside a 32-byte block,
	// a word and a byte (digests of the bytes made one word at a time).
	for n, want := range map[int]uint64{7: 0xf1201c9431cb9b7b, 37: 0xcc4d9e4360e12993, 1000: 0x4746c8e9252a9fb5, 65536: 0x4492da42c62e2937} {
		v := make([]byte, n)
		FillValue(v, 42)
		if got := ValueDigest(v); got != want {
			t.Errorf("FillValue(%d bytes, seed 42) digests to %#016x, pinned %#016x", n, got, want)
		}
	}
	// Bytes are spread: each of 256 values appears in 64 KiB.
	big := make([]byte, 64<<10)
	FillValue(big, 0)
	var seen [256]bool
	for _, c := range big {
		seen[c] = true
	}
	for v, ok := range seen {
		if !ok {
			t.Fatalf("byte %d never appears", v)
		}
	}
}

const pinnedFill = "daa667b30f9fce5778c17547"

func TestDigests(t *testing.T) {
	for _, n := range []int{0, 1, 5, 8, 15, 16, 4095, 4096, 4097, 100000} {
		for _, seed := range []uint64{0, 1, 1 << 63} {
			v := make([]byte, n)
			FillValue(v, seed)
			if d, s := ValueDigest(v), SeedDigest(n, seed); d != s {
				t.Errorf("size %d seed %d: ValueDigest %x, SeedDigest %x", n, seed, d, s)
			}
		}
	}
	// Different lengths of zeros, and a flipped bit, change the digest.
	if ValueDigest(make([]byte, 8)) == ValueDigest(make([]byte, 9)) || ValueDigest(nil) == ValueDigest([]byte{0}) {
		t.Error("digest ignores length")
	}
	v := make([]byte, 100)
	FillValue(v, 1)
	d := ValueDigest(v)
	for i := range 800 {
		v[i/8] ^= 1 << (i % 8)
		if ValueDigest(v) == d {
			t.Fatalf("flipping bit %d leaves the digest unchanged", i)
		}
		v[i/8] ^= 1 << (i % 8)
	}
}

func TestOpValue(t *testing.T) {
	op := Op{Kind: OpPut, Key: []byte("k"), Size: 10, Seed: 3}
	small := make([]byte, 4)
	v := op.Value(small)
	if len(v) != 10 || SeedDigest(10, 3) != ValueDigest(v) {
		t.Errorf("Value = %x", v)
	}
	big := make([]byte, 100)
	if v := op.Value(big); &v[0] != &big[0] || len(v) != 10 {
		t.Errorf("Value did not reuse a large enough buffer")
	}
}
