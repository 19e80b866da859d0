// Package fleetplan writes the manifests that run a sharded check on an
// existing fleet engine (harness plan): a Kubernetes Indexed Job, or an
// AWS Batch array job's definition and submission. The shapes are typed,
// never hand-written text: the Job is k8s.io/api's batch/v1 Job,
// serialized with sigs.k8s.io/yaml (through its JSON tags, as kubectl reads
// it); the Batch documents are this package's structs, whose JSON tags are
// the Batch API's member names, so `aws batch register-job-definition
// --cli-input-json` and `aws batch submit-job --cli-input-json` read them.
// (The AWS SDK for Go's batch types were considered: they carry no JSON
// tags, their serializers are internal to the SDK, so their JSON is not
// what the API or the CLI reads.)
//
// # What is fitted to the run
//
// A check is one core per worker process (GOMAXPROCS=1): each task asks
// for Jobs CPUs and MemoryPerJob per worker. The budget becomes the
// task's deadline plus Grace (shrinking a violation and starting the
// container take time the budget does not count). A task that finds a
// violation (exit 1) or was given bad flags (exit 2) is not retried: the
// same seeds find the same thing; any other failure is retried up to
// Retries times (a node lost, an exit 3).
package fleetplan

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gauntlet-kv/gauntlet/internal/shard"
)

// Plan is a sharded check to run on a fleet.
type Plan struct {
	// Name names the Job or job definition (a DNS label).
	Name string
	// Image is the container image holding the harness as "harness" on
	// its PATH.
	Image string
	// Shards is the number of tasks (completions, array size).
	Shards int
	// Check is the checker; Engine, Seed, Mode and Cases its flags (Cases
	// 0: each task runs until Budget).
	Check  string
	Engine string
	Mode   string
	Seed   uint64
	Cases  int
	Budget time.Duration
	// Jobs is the worker processes per task, one core each (default 1).
	Jobs int
	// Results is where the shards write: an object-store prefix
	// (s3://bucket/prefix), or a directory on a volume the tasks share
	// (Claim on Kubernetes, the host path on Batch).
	Results string
	// Claim is the PersistentVolumeClaim holding a directory Results on
	// Kubernetes (default "gauntlet-results").
	Claim string
	// Queue is the AWS Batch job queue (default "gauntlet").
	Queue string
	// Retries is how many times a failed task is retried (default 2).
	Retries int
	// Grace is added to Budget for the task's deadline (default 5m).
	Grace time.Duration
	// MemoryPerJob is each worker's memory (default 512Mi).
	MemoryPerJob resource.Quantity
}

// Defaults.
const (
	ClaimDefault   = "gauntlet-results"
	QueueDefault   = "gauntlet"
	RetriesDefault = 2
	GraceDefault   = 5 * time.Minute
	// workDir is where a task writes before its results reach an object
	// store, or where the results volume is mounted.
	workDir = "/results"
)

// MemoryPerJobDefault is a check worker's memory: the checkers' engines
// run on a 1 MiB device or a small directory, and the Go runtime and the
// model need far less than this; the rest is headroom for a long trace.
var memoryPerJobDefault = resource.MustParse("512Mi")

// EnsureDefaults fills in unset fields.
func (p *Plan) EnsureDefaults() {
	if p.Jobs == 0 {
		p.Jobs = 1
	}
	if p.Claim == "" {
		p.Claim = ClaimDefault
	}
	if p.Queue == "" {
		p.Queue = QueueDefault
	}
	if p.Retries == 0 {
		p.Retries = RetriesDefault
	}
	if p.Grace == 0 {
		p.Grace = GraceDefault
	}
	if p.MemoryPerJob.IsZero() {
		p.MemoryPerJob = memoryPerJobDefault.DeepCopy()
	}
	if p.Engine == "" {
		p.Engine = "shardstore"
	}
	if p.Seed == 0 {
		p.Seed = 1
	}
}

// Validate reports every problem with p, one per line joined by "; ".
func (p *Plan) Validate() error {
	var errs []string
	if p.Name == "" || len(p.Name) > 63 || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || strings.HasPrefix(p.Name, "-") || strings.HasSuffix(p.Name, "-") {
		errs = append(errs, fmt.Sprintf("--name %q: want a DNS label: lower-case letters, digits and '-', at most 63", p.Name))
	}
	if p.Image == "" {
		errs = append(errs, "--image: name the container image holding the harness")
	}
	if p.Shards < 1 || p.Shards > 10000 {
		errs = append(errs, fmt.Sprintf("--shards %d: want 1 to 10000 (an AWS Batch array's most)", p.Shards))
	}
	if p.Check == "" {
		errs = append(errs, "--check: name the checker the shards run")
	}
	if p.Budget <= 0 {
		errs = append(errs, fmt.Sprintf("--budget %s: give each shard a time, e.g. --budget 10m", p.Budget))
	}
	if p.Cases > 0 && p.Cases < p.Shards {
		errs = append(errs, fmt.Sprintf("--cases %d over %d shards leaves some nothing to run", p.Cases, p.Shards))
	}
	if p.Jobs < 1 || p.Jobs > 256 {
		errs = append(errs, fmt.Sprintf("--jobs %d: want 1 to 256 worker processes per shard", p.Jobs))
	}
	if p.Results == "" {
		errs = append(errs, "--results: name where the shards write: s3://bucket/prefix, or a directory on a shared volume")
	} else if !p.ObjectStore() && !strings.HasPrefix(p.Results, "/") {
		errs = append(errs, fmt.Sprintf("--results %s: give s3://bucket/prefix, or an absolute directory on the volume", p.Results))
	}
	if len(errs) > 0 {
		return fmt.Errorf("plan: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ObjectStore says the results go to an object store.
func (p *Plan) ObjectStore() bool { return strings.Contains(p.Results, "://") }

// Command is the harness command line each task runs; its shard comes
// from the fleet engine's environment.
func (p *Plan) Command() []string {
	c := []string{"harness", "check", p.Check, "--engine", p.Engine, "--seed", strconv.FormatUint(p.Seed, 10),
		"--budget", p.Budget.String(), "--jobs", strconv.Itoa(p.Jobs), "--quiet"}
	if p.Cases > 0 {
		c = append(c, "--cases", strconv.Itoa(p.Cases))
	}
	if p.Mode != "" {
		c = append(c, "--mode", p.Mode)
	}
	if p.ObjectStore() {
		return append(c, "--out", workDir, "--results", p.Results)
	}
	return append(c, "--out", p.Results)
}

// deadline is a task's time limit: the budget and the grace.
func (p *Plan) deadline() time.Duration { return p.Budget + p.Grace }

// memory is a task's memory: MemoryPerJob for each worker.
func (p *Plan) memory() resource.Quantity {
	m := p.MemoryPerJob.DeepCopy()
	m.Mul(int64(p.Jobs))
	return m
}

// The harness's exit codes a retry cannot change.
const (
	exitViolation = 1
	exitUsage     = 2
)

// K8sJob is the Kubernetes Indexed Job: Shards completions, all at once,
// each pod told the count by GAUNTLET_SHARDS (Kubernetes sets only its
// index, JOB_COMPLETION_INDEX).
func K8sJob(p Plan) *batchv1.Job {
	n := int32(p.Shards)
	retries := int32(p.Retries)
	deadline := int64(p.deadline().Seconds())
	indexed := batchv1.IndexedCompletion
	cpu := resource.NewQuantity(int64(p.Jobs), resource.DecimalSI)
	mem := p.memory()
	res := corev1.ResourceList{corev1.ResourceCPU: *cpu, corev1.ResourceMemory: mem, corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}
	c := corev1.Container{
		Name:    "shard",
		Image:   p.Image,
		Command: p.Command(),
		Env: []corev1.EnvVar{
			{Name: shard.EnvCount, Value: strconv.Itoa(p.Shards)},
			// One core per worker: the harness pins a check to one.
			{Name: "GOMAXPROCS", Value: strconv.Itoa(p.Jobs)},
		},
		Resources: corev1.ResourceRequirements{Requests: res, Limits: corev1.ResourceList{corev1.ResourceMemory: mem}},
	}
	vol := corev1.Volume{Name: "results"}
	if p.ObjectStore() {
		vol.VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "results", MountPath: workDir}}
	} else {
		vol.VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: p.Claim}}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "results", MountPath: p.Results}}
	}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Labels: map[string]string{"app.kubernetes.io/name": "gauntlet", "gauntlet/check": p.Check}},
		Spec: batchv1.JobSpec{
			CompletionMode:        &indexed,
			Completions:           &n,
			Parallelism:           &n,
			BackoffLimitPerIndex:  &retries,
			ActiveDeadlineSeconds: &deadline,
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{
					// A violation or a usage error: the same seeds give
					// the same outcome, so fail this index, retry none.
					Action: batchv1.PodFailurePolicyActionFailIndex,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
						Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{exitViolation, exitUsage},
					},
				},
				{
					// A node drained or preempted: not the shard's fault,
					// not counted against its retries.
					Action:          batchv1.PodFailurePolicyActionIgnore,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
				},
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "gauntlet"}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, // the Job retries, per index
					Containers:    []corev1.Container{c},
					Volumes:       []corev1.Volume{vol},
				},
			},
		},
	}
}

// BatchJobDefinition is the input of AWS Batch RegisterJobDefinition
// (the fields a container job uses).
type BatchJobDefinition struct {
	JobDefinitionName   string              `json:"jobDefinitionName"`
	Type                string              `json:"type"` // "container"
	ContainerProperties BatchContainer      `json:"containerProperties"`
	RetryStrategy       *BatchRetryStrategy `json:"retryStrategy,omitempty"`
	Timeout             *BatchTimeout       `json:"timeout,omitempty"`
	Tags                map[string]string   `json:"tags,omitempty"`
}

// BatchContainer is a job definition's containerProperties.
type BatchContainer struct {
	Image                string                     `json:"image"`
	Command              []string                   `json:"command"`
	Environment          []BatchKeyValue            `json:"environment,omitempty"`
	ResourceRequirements []BatchResourceRequirement `json:"resourceRequirements"`
	Volumes              []BatchVolume              `json:"volumes,omitempty"`
	MountPoints          []BatchMountPoint          `json:"mountPoints,omitempty"`
}

// BatchKeyValue is an environment variable.
type BatchKeyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// BatchResourceRequirement is a container's VCPU or MEMORY (MiB).
type BatchResourceRequirement struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// BatchVolume is a host directory volume.
type BatchVolume struct {
	Name string          `json:"name"`
	Host BatchHostVolume `json:"host"`
}

// BatchHostVolume is a volume's host path.
type BatchHostVolume struct {
	SourcePath string `json:"sourcePath"`
}

// BatchMountPoint mounts a volume in the container.
type BatchMountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
}

// BatchRetryStrategy is how many attempts a child job gets, and which
// exits end it at once.
type BatchRetryStrategy struct {
	Attempts       int                 `json:"attempts"`
	EvaluateOnExit []BatchEvaluateExit `json:"evaluateOnExit,omitempty"`
}

// BatchEvaluateExit matches an attempt's exit and says to RETRY or EXIT.
type BatchEvaluateExit struct {
	OnExitCode string `json:"onExitCode,omitempty"`
	OnReason   string `json:"onReason,omitempty"`
	Action     string `json:"action"`
}

// BatchTimeout is an attempt's time limit.
type BatchTimeout struct {
	AttemptDurationSeconds int64 `json:"attemptDurationSeconds"`
}

// BatchSubmitJob is the input of AWS Batch SubmitJob for the array.
type BatchSubmitJob struct {
	JobName         string                `json:"jobName"`
	JobQueue        string                `json:"jobQueue"`
	JobDefinition   string                `json:"jobDefinition"`
	ArrayProperties *BatchArrayProperties `json:"arrayProperties,omitempty"`
}

// BatchArrayProperties is an array job's size: AWS Batch gives each child
// AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE.
type BatchArrayProperties struct {
	Size int `json:"size"`
}

// Batch is the AWS Batch job definition and the array submission. An array
// job needs at least two children: one shard is submitted without
// arrayProperties, and --shard 0/1 is then in its command.
func Batch(p Plan) (BatchJobDefinition, BatchSubmitJob) {
	m := p.memory()
	mib := (m.Value() + (1<<20 - 1)) >> 20
	c := BatchContainer{
		Image:   p.Image,
		Command: p.Command(),
		Environment: []BatchKeyValue{
			{Name: "GOMAXPROCS", Value: strconv.Itoa(p.Jobs)},
		},
		ResourceRequirements: []BatchResourceRequirement{
			{Type: "VCPU", Value: strconv.Itoa(p.Jobs)},
			{Type: "MEMORY", Value: strconv.FormatInt(mib, 10)},
		},
	}
	if !p.ObjectStore() {
		c.Volumes = []BatchVolume{{Name: "results", Host: BatchHostVolume{SourcePath: p.Results}}}
		c.MountPoints = []BatchMountPoint{{SourceVolume: "results", ContainerPath: p.Results}}
	}
	def := BatchJobDefinition{
		JobDefinitionName:   p.Name,
		Type:                "container",
		ContainerProperties: c,
		RetryStrategy: &BatchRetryStrategy{
			Attempts: p.Retries + 1,
			// A violation or a usage error: the same seeds give the same
			// outcome. Anything else (exit 3, a lost host) retries.
			EvaluateOnExit: []BatchEvaluateExit{
				{OnExitCode: strconv.Itoa(exitViolation), Action: "EXIT"},
				{OnExitCode: strconv.Itoa(exitUsage), Action: "EXIT"},
				{OnReason: "*", Action: "RETRY"},
			},
		},
		Timeout: &BatchTimeout{AttemptDurationSeconds: int64(p.deadline().Seconds())},
		Tags:    map[string]string{"gauntlet/check": p.Check},
	}
	sub := BatchSubmitJob{JobName: p.Name, JobQueue: p.Queue, JobDefinition: p.Name}
	if p.Shards > 1 {
		sub.ArrayProperties = &BatchArrayProperties{Size: p.Shards}
	} else {
		def.ContainerProperties.Command = append(def.ContainerProperties.Command, "--shard", "0/1")
	}
	return def, sub
}
