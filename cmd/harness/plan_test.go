package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/internal/fleetplan"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
)

// TestPlanK8sManifest decodes the Indexed Job harness plan k8s writes back
// through k8s.io/api's types (strictly: an unknown field fails), checks the
// fields that decide how the fleet runs it, and runs the command its pods
// would run, as two pods with Kubernetes' environment, into the results
// directory, and merges what they wrote.
func TestPlanK8sManifest(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	code, stdout, stderr := runCLI(t, "plan", "k8s", "--check", "conformance", "--engine", "model", "--shards", "2", "--cases", "6",
		"--budget", "30s", "--jobs", "2", "--memory", "256Mi", "--image", "example/gauntlet:v1", "--results", results, "--out", dir)
	if code != 0 {
		t.Fatalf("plan k8s: exit %d: %s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(b, &job); err != nil {
		t.Fatalf("job.yaml does not decode as a batch/v1 Job: %v\n%s", err, b)
	}
	s := job.Spec
	switch {
	case job.APIVersion != "batch/v1" || job.Kind != "Job":
		t.Fatalf("apiVersion %q kind %q", job.APIVersion, job.Kind)
	case s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion:
		t.Fatalf("completionMode %v, want Indexed", s.CompletionMode)
	case s.Completions == nil || *s.Completions != 2 || s.Parallelism == nil || *s.Parallelism != 2:
		t.Fatalf("completions %v parallelism %v, want 2", s.Completions, s.Parallelism)
	case s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != fleetplan.RetriesDefault:
		t.Fatalf("backoffLimitPerIndex %v", s.BackoffLimitPerIndex)
	case s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 30+300:
		t.Fatalf("activeDeadlineSeconds %v, want the budget and the grace", s.ActiveDeadlineSeconds)
	case s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever:
		t.Fatalf("restartPolicy %q: a pod failure policy needs Never", s.Template.Spec.RestartPolicy)
	case s.PodFailurePolicy == nil || s.PodFailurePolicy.Rules[0].Action != batchv1.PodFailurePolicyActionFailIndex ||
		!slices.Contains(s.PodFailurePolicy.Rules[0].OnExitCodes.Values, int32(exitViolation)):
		t.Fatalf("podFailurePolicy %+v: a violation must fail its index, not retry", s.PodFailurePolicy)
	}
	c := s.Template.Spec.Containers[0]
	if q := c.Resources.Requests[corev1.ResourceCPU]; q.Cmp(resource.MustParse("2")) != 0 {
		t.Fatalf("cpu request %s, want 2 (one per worker)", q.String())
	}
	if q := c.Resources.Requests[corev1.ResourceMemory]; q.Cmp(resource.MustParse("512Mi")) != 0 {
		t.Fatalf("memory request %s, want 512Mi (256Mi per worker)", q.String())
	}
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == shard.EnvCount }); i < 0 || c.Env[i].Value != "2" {
		t.Fatalf("env %v: want %s=2, the completions", c.Env, shard.EnvCount)
	}
	if c.VolumeMounts[0].MountPath != results || s.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != fleetplan.ClaimDefault {
		t.Fatalf("the results directory is not the claim's mount: %+v %+v", c.VolumeMounts, s.Template.Spec.Volumes)
	}
	// Run each pod's command as Kubernetes would start it.
	if c.Command[0] != "harness" {
		t.Fatalf("command %q does not start with harness", c.Command)
	}
	for i := range 2 {
		t.Setenv(shard.EnvK8sIndex, strconv.Itoa(i))
		t.Setenv(shard.EnvCount, "2")
		if code, _, stderr := runCLI(t, c.Command[1:]...); code != 0 {
			t.Fatalf("pod %d: %q: exit %d: %s", i, c.Command, code, stderr)
		}
	}
	os.Unsetenv(shard.EnvK8sIndex)
	merged := filepath.Join(dir, "merged")
	if code, stdout, stderr := runCLI(t, "merge", results, "--out", merged); code != 0 {
		t.Fatalf("merge: exit %d: %s%s", code, stdout, stderr)
	}
	r := readMergeResult(t, filepath.Join(merged, "conformance-merged.json"))
	if r.Verdict != checkers.Pass || r.Cases != 6 || len(r.Shards) != 2 || r.Jobs != 4 {
		t.Fatalf("merged %s, %d cases, %d shards, %d jobs; want pass, 6 cases, 2 shards of 2 jobs", r.Verdict, r.Cases, len(r.Shards), r.Jobs)
	}
}

// TestPlanBatchManifest decodes the AWS Batch documents strictly and checks
// the array size, the resources and the retry rules.
func TestPlanBatchManifest(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "plan", "batch", "--check", "crash", "--shards", "50", "--budget", "1h",
		"--image", "example/gauntlet:v1", "--results", "s3://bucket/nightly", "--out", dir)
	if code != 0 {
		t.Fatalf("plan batch: exit %d: %s%s", code, stdout, stderr)
	}
	decode := func(name string, v any) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var def fleetplan.BatchJobDefinition
	var sub fleetplan.BatchSubmitJob
	decode("job-definition.json", &def)
	decode("submit-job.json", &sub)
	cp := def.ContainerProperties
	switch {
	case sub.ArrayProperties == nil || sub.ArrayProperties.Size != 50 || sub.JobDefinition != def.JobDefinitionName:
		t.Fatalf("submission %+v: want an array of 50 of the definition %s", sub, def.JobDefinitionName)
	case def.Type != "container" || def.Timeout.AttemptDurationSeconds != 3600+300:
		t.Fatalf("definition type %q timeout %+v", def.Type, def.Timeout)
	case !slices.Contains(cp.ResourceRequirements, fleetplan.BatchResourceRequirement{Type: "VCPU", Value: "1"}) ||
		!slices.Contains(cp.ResourceRequirements, fleetplan.BatchResourceRequirement{Type: "MEMORY", Value: "512"}):
		t.Fatalf("resources %+v, want 1 VCPU and 512 MiB", cp.ResourceRequirements)
	case def.RetryStrategy.Attempts != 3 || def.RetryStrategy.EvaluateOnExit[0] != (fleetplan.BatchEvaluateExit{OnExitCode: "1", Action: "EXIT"}):
		t.Fatalf("retry %+v: a violation must end the child, other failures retry twice", def.RetryStrategy)
	case !strings.Contains(strings.Join(cp.Command, " "), "--results s3://bucket/nightly"):
		t.Fatalf("command %q does not write to the bucket", cp.Command)
	}
}

func TestPlanUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "nomad", "--check", "conformance"}, `"nomad": name the fleet engine`},
		{[]string{"plan", "k8s", "--check", "nope", "--shards", "2", "--image", "i", "--results", "/r"}, "--check nope: no such checker"},
		{[]string{"plan", "k8s", "--check", "conformance", "--shards", "0", "--image", "i", "--results", "r"}, "--shards 0: want 1 to 10000 (an AWS Batch array's most); --results r: give s3://bucket/prefix, or an absolute directory"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want %d and one line with %q", c.args, code, stderr, exitUsage, c.want)
		}
	}
}
