package shard

import (
	"strings"
	"testing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name, flag string
		env        func(string) string
		want       Shard
		err        string // a substring of the error
	}{
		{name: "none", env: env(), want: Shard{}},
		{name: "one", flag: "0/1", env: env(), want: Shard{0, 1}},
		{name: "flag", flag: "2/4", env: env(), want: Shard{2, 4}},
		{name: "flag wins", flag: "1/2", env: env(EnvBatchIndex, "3", EnvBatchSize, "4"), want: Shard{1, 2}},
		{name: "kubernetes", env: env(EnvK8sIndex, "3", EnvCount, "8"), want: Shard{3, 8}},
		{name: "batch", env: env(EnvBatchIndex, "0", EnvBatchSize, "2"), want: Shard{0, 2}},
		{name: "k8s without count", env: env(EnvK8sIndex, "1"), err: "GAUNTLET_SHARDS is not"},
		{name: "k8s index past count", env: env(EnvK8sIndex, "4", EnvCount, "4"), err: `JOB_COMPLETION_INDEX="4": want a whole number from 0 to 3`},
		{name: "batch bad size", env: env(EnvBatchIndex, "0", EnvBatchSize, "x"), err: `AWS_BATCH_JOB_ARRAY_SIZE="x"`},
		{name: "batch negative", env: env(EnvBatchIndex, "-1", EnvBatchSize, "3"), err: "AWS_BATCH_JOB_ARRAY_INDEX"},
		{name: "flag no slash", flag: "3", env: env(), err: "--shard \"3\": give the shard as i/N"},
		{name: "flag index", flag: "5/5", env: env(), err: "the index i must be"},
		{name: "flag zero count", flag: "0/0", env: env(), err: "the count N must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.flag, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Resolve = %v, %v; want an error containing %q", got, err, tc.err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestSplitsCover checks that the shards of a split own every item and
// every unit exactly once, for the counts a fleet uses.
func TestSplitsCover(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 7} {
		for _, total := range []int{0, 1, 5, 10, 101} {
			sum := 0
			owned := make([]int, total)
			for i := range n {
				s := Shard{i, n}
				sum += s.Share(total)
				for k := range total {
					if s.Owns(k) {
						owned[k]++
					}
				}
			}
			if sum != total {
				t.Errorf("N=%d: shares of %d sum to %d", n, total, sum)
			}
			for k, c := range owned {
				if c != 1 {
					t.Errorf("N=%d: item %d of %d owned by %d shards", n, k, total, c)
				}
			}
		}
	}
	if got := (Shard{}).Suffix(); got != "shard-0-of-1" {
		t.Errorf("zero Suffix = %q", got)
	}
}
