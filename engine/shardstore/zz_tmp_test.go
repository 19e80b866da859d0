package shardstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/trace"
	"testing"
	"time"

	"github.com/gauntlet-kv/gauntlet/workloads"
)

func TestZZTmpFillTrace(t *testing.T) {
	if os.Getenv("ZZTRACE") == "" {
		t.Skip()
	}
	s, err := OpenDir(t.TempDir(), Options{DeviceBytes: 4 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	sz := 64 << 10
	if os.Getenv("ZZA") != "" {
		sz = 1000
	}
	v := make([]byte, sz)
	const keys = 100000
	if os.Getenv("ZZA") != "" {
		for i := 0; i < keys; i++ {
			s.Put(ctx, fmt.Appendf(nil, "k%012d", i), v)
		}
	}
	f, _ := os.Create(os.Getenv("ZZTRACE"))
	n := 0
	trace.Start(f)
	start := time.Now()
	r := rand.New(rand.NewPCG(1, 2))
	for time.Since(start) < 2*time.Second {
		if os.Getenv("ZZA") != "" {
			k := fmt.Appendf(nil, "k%012d", r.IntN(keys))
			if n%2 == 0 {
				s.Get(ctx, k)
			} else {
				s.Put(ctx, k, v)
			}
		} else {
			workloads.FillValue(v, uint64(n))
			s.Put(ctx, fmt.Appendf(nil, "k%012d", n), v)
		}
		n++
	}
	trace.Stop()
	f.Close()
	t.Logf("%d ops %.0f ops/s", n, float64(n)/2)
}
