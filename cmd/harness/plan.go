package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/internal/fleetplan"
)

func newPlanCmd() *cobra.Command {
	var (
		p      fleetplan.Plan
		memory string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "plan k8s|batch --check NAME --shards N --budget D --results PREFIX --image IMAGE",
		Short: "Write the manifest that runs a sharded check on Kubernetes or AWS Batch",
		Long: `plan writes a ready manifest for running a check as N shards on a fleet engine
you already have, each shard one task running harness check with its part of the
seeds (--shard, read from the task's environment):

  k8s    --out/job.yaml: a Kubernetes Indexed Job (completionMode: Indexed,
         backoffLimitPerIndex, a pod failure policy that retries no violation);
         kubectl apply -f it
  batch  --out/job-definition.json and --out/submit-job.json: an AWS Batch job
         definition and its array submission; aws batch register-job-definition
         --cli-input-json file://... then aws batch submit-job --cli-input-json

Each task asks for --jobs CPUs (a check worker is one core) and --memory per
worker, and gets --budget plus a grace as its deadline. The results go to
--results: s3://bucket/prefix (each shard writes there itself), or a directory
on a volume every task mounts (a PersistentVolumeClaim, --claim, on Kubernetes;
the host path on Batch). harness merge joins them afterwards.`,
		Example: `  harness plan k8s --check conformance --shards 16 --budget 30m --image registry.example/gauntlet:v1 --results s3://ci-results/nightly
  harness plan batch --check crash --shards 100 --budget 1h --image 1234.dkr.ecr.example/gauntlet:v1 --results /mnt/efs/gauntlet`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := args[0]
			if target != "k8s" && target != "batch" {
				return usagef("plan: %q: name the fleet engine: harness plan k8s or harness plan batch", target)
			}
			if !slices.ContainsFunc(checkerTable, func(c checkers.Checker) bool { return c.Name == p.Check }) && p.Check != "" {
				return usagef("plan: --check %s: no such checker (want %s)", p.Check, checkerNames(", ", nil))
			}
			q, err := resource.ParseQuantity(memory)
			if err != nil || q.Sign() <= 0 {
				return usagef("plan: --memory %q: give a size, e.g. 512Mi or 2Gi", memory)
			}
			p.MemoryPerJob = q
			p.EnsureDefaults()
			if err := p.Validate(); err != nil {
				return usageError{err}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return usagef("plan: --out %s: %v", out, unwrapPathErr(err))
			}
			return writePlan(cmd, target, p, out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&p.Name, "name", "gauntlet-check", "the Job's or job definition's name")
	fl.StringVar(&p.Image, "image", "", "container image with the harness on its PATH")
	fl.IntVar(&p.Shards, "shards", 0, "number of shards (tasks)")
	fl.StringVar(&p.Check, "check", "", "checker the shards run ("+checkerNames(", ", nil)+")")
	fl.StringVar(&p.Engine, "engine", "shardstore", "engine spec")
	fl.StringVar(&p.Mode, "mode", "", "the checker's mode, if it has modes")
	fl.Uint64Var(&p.Seed, "seed", 1, "first seed: shard i with --jobs J runs seeds seed+i*J ...")
	fl.IntVar(&p.Cases, "cases", 0, "cases over all shards (0: each runs until --budget)")
	fl.DurationVar(&p.Budget, "budget", 10*time.Minute, "each shard's time")
	fl.IntVar(&p.Jobs, "jobs", 1, "worker processes per shard, one CPU each")
	fl.StringVar(&p.Results, "results", "", "where the shards write: s3://bucket/prefix or an absolute directory on a shared volume")
	fl.StringVar(&p.Claim, "claim", fleetplan.ClaimDefault, "k8s: the PersistentVolumeClaim holding a directory --results")
	fl.StringVar(&p.Queue, "queue", fleetplan.QueueDefault, "batch: the job queue")
	fl.IntVar(&p.Retries, "retries", fleetplan.RetriesDefault, "retries of a shard that failed other than by a violation")
	fl.StringVar(&memory, "memory", "512Mi", "memory per worker process")
	fl.StringVar(&out, "out", filepath.Join("out", "plan"), "directory for the manifest")
	return cmd
}

// writePlan writes the manifest of target and says how to start it.
func writePlan(cmd *cobra.Command, target string, p fleetplan.Plan, out string) error {
	w := cmd.OutOrStdout()
	write := func(name string, b []byte) (string, error) {
		path := filepath.Join(out, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return "", fmt.Errorf("plan: %w", err)
		}
		return path, nil
	}
	if target == "k8s" {
		b, err := yaml.Marshal(fleetplan.K8sJob(p))
		if err != nil {
			return fmt.Errorf("plan: encode the Job: %w", err)
		}
		path, err := write("job.yaml", b)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Indexed Job %s: %d shards of harness check %s, %d CPU each, deadline %s\nmanifest: %s\nrun: kubectl apply -f %s\n",
			p.Name, p.Shards, p.Check, p.Jobs, p.Budget+p.Grace, path, path)
		return nil
	}
	def, sub := fleetplan.Batch(p)
	var paths []string
	for _, d := range []struct {
		name string
		v    any
	}{{"job-definition.json", def}, {"submit-job.json", sub}} {
		b, err := json.MarshalIndent(d.v, "", "  ")
		if err != nil {
			return fmt.Errorf("plan: encode %s: %w", d.name, err)
		}
		path, err := write(d.name, append(b, '\n'))
		if err != nil {
			return err
		}
		paths = append(paths, path)
	}
	fmt.Fprintf(w, "AWS Batch array %s: %d shards of harness check %s, %d vCPU each, timeout %s\nrun: aws batch register-job-definition --cli-input-json file://%s\n     aws batch submit-job --cli-input-json file://%s\n",
		p.Name, p.Shards, p.Check, p.Jobs, p.Budget+p.Grace, paths[0], paths[1])
	return nil
}
