package workloads_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"text/tabwriter"

	"github.com/gauntlet-kv/gauntlet/workloads"
)

func Example() {
	w, err := workloads.Parse("ycsb-b,records=100000,values=4KiB")
	if err != nil {
		fmt.Println(err)
		return
	}
	g := w.NewGenerator(workloads.WorkerRand(42, 0))
	for range 3 {
		op := g.Next()
		fmt.Println(op.Kind, len(op.Key) > 4, op.Size)
	}
	// Output:
	// get true 0
	// get true 0
	// get true 0
}

func ExampleParse_error() {
	_, err := workloads.Parse("ycsb-a,keys=zipf:2")
	fmt.Println(err)
	// Output:
	// workload "ycsb-a,keys=zipf:2": term "keys=zipf:2": θ must be between 0 and 1 (exclusive), e.g. zipf:0.99
}

func ExampleNamed() {
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, workloads.InfoHeader)
	for _, info := range workloads.Named()[:3] {
		fmt.Fprintln(tw, info)
	}
	tw.Flush()
	// Output:
	// NAME    MIX                KEYS       VALUES  DESCRIPTION
	// ycsb-a  read=50,update=50  zipf:0.99  1000B   update heavy: session store recording recent actions
	// ycsb-b  read=95,update=5   zipf:0.99  1000B   read mostly: photo tagging
	// ycsb-c  read=100           zipf:0.99  1000B   read only: user profile cache
}

func ExampleBiased() {
	b, err := workloads.NewBiased(workloads.BiasedOptions{Keys: 8, PageBytes: 512})
	if err != nil {
		fmt.Println(err)
		return
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		fmt.Println(b.Draw(rng))
	}
	// Output:
	// list end="k6" n=13
	// get "k4"
	// put "k6" size=1 seed=13604808898340030615
	// get "k6"
}

func ExampleWriteTrace() {
	ops := []workloads.Op{
		{Kind: workloads.OpPut, Key: []byte("k1"), Size: 4096, Seed: 7},
		{Kind: workloads.OpGet, Key: []byte("k\x00")},
		{Kind: workloads.OpList, End: []byte("k9"), ScanLen: 5},
	}
	var buf bytes.Buffer
	if err := workloads.WriteTrace(&buf, workloads.Header{Seed: 42, Workload: "example"}, ops); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(buf.String())
	tr, err := workloads.ParseTrace(&buf)
	fmt.Println(len(tr.Ops), err)
	// Output:
	// # gauntlet-trace v1
	// # seed=42 workload="example"
	// put "k1" size=4096 seed=7
	// get "k\x00"
	// list end="k9" n=5
	// # end ops=3
	// 3 <nil>
}
