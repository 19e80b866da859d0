// Package store is where the shards of a fleet run keep their results when
// the fleet has no shared folder: a directory tree, or a prefix in an
// S3-compatible bucket (--results s3://bucket/prefix). Shards write their
// output folder there (Upload); harness merge reads it back (Store is a
// merge.Source). It goes through gocloud.dev/blob with its file and S3
// drivers, so the same code serves a local tree in tests and a bucket in a
// fleet.
//
// # Addresses
//
//   - s3://bucket/prefix: the prefix in the bucket. Credentials and region
//     come from the usual AWS environment (AWS_ACCESS_KEY_ID, AWS_REGION,
//     an instance or pod role). The query takes gocloud's s3blob
//     parameters, for an S3-compatible server: s3://bucket/prefix?endpoint=
//     http://127.0.0.1:9000&use_path_style=true&region=us-east-1.
//   - a directory (absolute or relative, or file:///path): the tree under
//     it, created if missing.
//
// # Idempotence
//
// A shard uploads its own folder (shard-i-of-N/...) under the prefix, key
// by key: a retried shard overwrites its own keys and no other shard's.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
)

// Store is a results store: a bucket prefix or a directory tree.
type Store struct {
	addr   string
	bucket *blob.Bucket
}

// IsURL says whether addr names an object store rather than a directory.
func IsURL(addr string) bool {
	return strings.Contains(addr, "://") && !strings.HasPrefix(addr, "file://")
}

// Open opens the store at addr (see the package documentation). The error
// names addr and what to give instead.
func Open(ctx context.Context, addr string) (*Store, error) {
	if !strings.Contains(addr, "://") || strings.HasPrefix(addr, "file://") {
		dir := strings.TrimPrefix(addr, "file://")
		if dir == "" {
			return nil, fmt.Errorf("--results %q: name a directory or s3://bucket/prefix", addr)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("--results %s: %w", addr, err)
		}
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true, NoTempDir: true})
		if err != nil {
			return nil, fmt.Errorf("--results %s: %w", addr, err)
		}
		return &Store{addr: addr, bucket: b}, nil
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("--results %q: %v", addr, err)
	}
	if u.Scheme != s3blob.Scheme {
		return nil, fmt.Errorf("--results %s: scheme %s: give s3://bucket/prefix or a directory", addr, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("--results %s: no bucket: give s3://bucket/prefix", addr)
	}
	b, err := blob.OpenBucket(ctx, (&url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}).String())
	if err != nil {
		return nil, fmt.Errorf("--results %s: %w", addr, err)
	}
	if prefix := strings.Trim(u.Path, "/"); prefix != "" {
		b = blob.PrefixedBucket(b, prefix+"/")
	}
	return &Store{addr: addr, bucket: b}, nil
}

// Close releases the store.
func (s *Store) Close() error { return s.bucket.Close() }

func (s *Store) String() string { return s.addr }

// List returns every key under the store's root.
func (s *Store) List(ctx context.Context) ([]string, error) {
	var keys []string
	it := s.bucket.List(nil)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", s.addr, err)
		}
		if !o.IsDir {
			keys = append(keys, o.Key)
		}
	}
}

// Read returns the object at key.
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	b, err := s.bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", s.addr, key, err)
	}
	return b, nil
}

// Write puts b at key, replacing what was there.
func (s *Store) Write(ctx context.Context, key string, b []byte) error {
	if err := s.bucket.WriteAll(ctx, key, b, nil); err != nil {
		return fmt.Errorf("write %s/%s: %w", s.addr, key, err)
	}
	return nil
}

// Upload writes every regular file under dir to the key prefix/<its path
// under dir>, and returns how many it wrote.
func (s *Store) Upload(ctx context.Context, dir, prefix string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := s.Write(ctx, path.Join(prefix, filepath.ToSlash(rel)), b); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}
