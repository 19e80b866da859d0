package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/yaml"
)

// k8sSchemaCheck validates a manifest against the Kubernetes API's own
// schema (the OpenAPI-derived structural schema client-go ships for
// server-side apply), as a schema validator such as kubeconform does:
// every field must be declared for its type and every value must have the
// declared kind. Decoding into k8s.io/api's Go types alone would accept a
// string where the API wants a number, or a field nested at the wrong
// level that happens to share a name.
func k8sSchemaCheck(manifest []byte) error {
	var obj map[string]any
	if err := yaml.Unmarshal(manifest, &obj); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := batchv1.AddToScheme(scheme); err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	if u.GroupVersionKind() != batchv1.SchemeGroupVersion.WithKind("Job") {
		return fmt.Errorf("kind %v, want a batch/v1 Job", u.GroupVersionKind())
	}
	_, err := applyconfigurations.NewTypeConverter(scheme).ObjectToTyped(u)
	return err
}

// TestPlanK8sManifestSchema runs the schema check over the manifests of
// both results stores and several shard counts, and proves the check
// rejects the mistakes a hand-edited manifest makes.
func TestPlanK8sManifestSchema(t *testing.T) {
	var manifest []byte
	for _, tc := range []struct{ shards, results string }{
		{"8", "s3://ci-results/nightly"},
		{"1", "/mnt/results"},
		{"100", "s3://bucket/prefix?endpoint=http://127.0.0.1:9000&use_path_style=true"},
	} {
		dir := t.TempDir()
		code, stdout, stderr := runCLI(t, "plan", "k8s", "--check", "conformance", "--shards", tc.shards, "--budget", "30m",
			"--image", "registry.example/gauntlet:v1", "--results", tc.results, "--out", dir)
		if code != 0 {
			t.Fatalf("plan k8s --shards %s --results %s: exit %d: %s%s", tc.shards, tc.results, code, stdout, stderr)
		}
		b, err := os.ReadFile(filepath.Join(dir, "job.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := k8sSchemaCheck(b); err != nil {
			t.Fatalf("--shards %s --results %s: the schema check refuses job.yaml: %v\n%s", tc.shards, tc.results, err, b)
		}
		manifest = b
	}
	// The check must be able to fail: each edit below is refused.
	for _, bad := range []struct{ name, from, to string }{
		{"an unknown field", "completionMode: Indexed", "completionMode: Indexed\n  completionIndexes: 3"},
		{"a string for a number", "completions: 100", "completions: hundred"},
		{"a field at the wrong level", "completionMode: Indexed", "completionMode: Indexed\n  restartPolicy: Never"},
	} {
		if !strings.Contains(string(manifest), bad.from) {
			t.Fatalf("%s: the manifest has no %q to edit:\n%s", bad.name, bad.from, manifest)
		}
		edited := strings.Replace(string(manifest), bad.from, bad.to, 1)
		if err := k8sSchemaCheck([]byte(edited)); err == nil {
			t.Errorf("%s: the schema check accepts it:\n%s", bad.name, edited)
		} else {
			t.Logf("%s: refused: %v", bad.name, err)
		}
	}
}
