package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gauntlet-kv/gauntlet/internal/store/storetest"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"s3", "dir"} {
		t.Run(kind, func(t *testing.T) {
			addr := filepath.Join(t.TempDir(), "results")
			if kind == "s3" {
				addr = storetest.FakeS3(t, "fleet", "runs/1")
			}
			s, err := Open(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Two shards upload their folders; the second is retried
			// with other contents and replaces only its own keys.
			for i, files := range []map[string]string{
				{"a.json": "shard 0", "sub/t.trace": "trace 0"},
				{"a.json": "shard 1 first try", "old.json": "kept"},
				{"a.json": "shard 1 retried"},
			} {
				dir := t.TempDir()
				for name, body := range files {
					os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
					if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				prefix := []string{"shard-0-of-2", "shard-1-of-2", "shard-1-of-2"}[i]
				if n, err := s.Upload(ctx, dir, prefix); err != nil || n != len(files) {
					t.Fatalf("upload %d: %d files, %v", i, n, err)
				}
			}
			keys, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"shard-0-of-2/a.json", "shard-0-of-2/sub/t.trace", "shard-1-of-2/a.json", "shard-1-of-2/old.json"}
			if !slices.Equal(keys, want) {
				t.Fatalf("keys %q, want %q", keys, want)
			}
			for key, body := range map[string]string{"shard-0-of-2/a.json": "shard 0", "shard-1-of-2/a.json": "shard 1 retried"} {
				if b, err := s.Read(ctx, key); err != nil || string(b) != body {
					t.Fatalf("read %s: %q, %v; want %q", key, b, err, body)
				}
			}
			if _, err := s.Read(ctx, "nope.json"); err == nil {
				t.Fatal("read of a missing key succeeded")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	for _, addr := range []string{"gs://bucket/x", "s3:///prefix"} {
		if _, err := Open(context.Background(), addr); err == nil {
			t.Errorf("Open(%q) succeeded", addr)
		}
	}
}
