// Package storetest starts an S3-compatible server on loopback for tests
// of the results store (github.com/johannesboyne/gofakes3, in memory).
package storetest

import (
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// FakeS3 starts an S3-compatible server on loopback holding bucket, sets
// the AWS environment a client needs for it (for this process and the
// processes it starts: t.Setenv), and returns the s3:// address of prefix
// in the bucket, with the query that points a client at the server.
func FakeS3(t testing.TB, bucket, prefix string) string {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(ts.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return "s3://" + bucket + "/" + prefix + "?endpoint=" + ts.URL + "&use_path_style=true&region=us-east-1"
}
