package disk_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"

	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// Crash a Mem every way it can be crashed.
func ExampleMem_CrashStates() {
	m := disk.NewMem(8*512, 512)
	m.WriteAt([]byte("durable"), 0)
	m.Flush()
	m.WriteAt([]byte("pending-a"), 512)
	m.WriteAt([]byte("pending-b"), 1024)

	states, err := m.CrashStates(100)
	if err != nil {
		panic(err)
	}
	for _, st := range states {
		a, b, d := make([]byte, 9), make([]byte, 9), make([]byte, 7)
		st.ReadAt(d, 0)
		st.ReadAt(a, 512)
		st.ReadAt(b, 1024)
		fmt.Printf("%s %q %q\n", d, a, b)
	}
	// One random crash, reproducible from its seed.
	st := m.Crash(rand.New(rand.NewPCG(1, 2)), disk.CrashRandom)
	fmt.Println(st.Pending(), m.Pending())
	// Output:
	// durable "\x00\x00\x00\x00\x00\x00\x00\x00\x00" "\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	// durable "pending-a" "\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	// durable "\x00\x00\x00\x00\x00\x00\x00\x00\x00" "pending-b"
	// durable "pending-a" "pending-b"
	// 0 2
}

// Fail the third write, and model a hard disk in virtual time.
func ExampleFaulty() {
	f, err := disk.NewFaulty(disk.NewMem(1<<30, 512), disk.FaultyOptions{HDD: &disk.HDDModel{}})
	if err != nil {
		panic(err)
	}
	f.FailNth(disk.OpWrite, 3)
	buf := make([]byte, 4096)
	for i := range 4 {
		_, err := f.WriteAt(buf, int64(i)*4096)
		fmt.Println(i, err, errors.Is(err, syscall.EIO), errors.Is(err, disk.ErrInjected))
	}
	// Writes 0 and 1 stream at 160 MB/s; the failed write did not move the
	// head, so write 3 pays a short seek and half a rotation.
	fmt.Println(f.Clock())
	// Output:
	// 0 <nil> false false
	// 1 <nil> false false
	// 2 disk: faulty: write at offset 8192 length 4096: injected error: input/output error true true
	// 3 <nil> false false
	// 5.272762ms
}
