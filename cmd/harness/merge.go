package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/internal/merge"
	"github.com/gauntlet-kv/gauntlet/reports"
)

func newMergeCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge DIR... --out DIR",
		Short: "Join the results of a fleet run's shards (--shard i/N) into one",
		Long: `merge reads the results the shards of one fleet run wrote (harness check, bench
or mutants with --shard i/N, or JOB_COMPLETION_INDEX / AWS_BATCH_JOB_ARRAY_INDEX
set by a Kubernetes Indexed Job or an AWS Batch array) from every DIR, and writes
what one machine running every shard would have:

  check    <checker>-merged.json: the gravest verdict, cases and ops summed, the
           seeds of every shard; violations deduplicated by their minimized ops
           (one bug found from many seeds: one entry, its count, the shortest repro)
  bench    bench.json with every shard's runs in repetition order, each run's
           histograms (.hgrm, and .hdr: exact), and merged-<workload>-<engine>-<op>.hdr,
           every repetition of an op merged exactly
  mutants  mutants.json and its heatmap: the union of the shards' rows, scored again

A shard read twice counts once. Shards of different commits, option sets or shard
counts are refused. A check with missing shards is not a pass: its verdict is
unknown, naming them. Exit codes as harness check's for the merged verdict (0 pass,
1 violation, 3 unknown or an untrustworthy mutants run); 2 for inputs that cannot
be merged.`,
		Example: `  harness merge out/fleet --out out/merged
  harness merge shard-a/ shard-b/ --out out/merged`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			var srcs []merge.Source
			for _, d := range dirs {
				if st, err := os.Stat(d); err != nil || !st.IsDir() {
					if err == nil {
						return usagef("merge: %s is not a directory: give the folders the shards wrote to", d)
					}
					return usagef("merge: %s: %v", d, unwrapPathErr(err))
				}
				srcs = append(srcs, merge.Dir(d))
			}
			return runMerge(cmd, srcs, out)
		},
	}
	cmd.Flags().StringVar(&out, "out", filepath.Join("out", "merged"), "directory for the merged results")
	return cmd
}

// runMerge merges the shards in srcs and writes the merged results to out.
func runMerge(cmd *cobra.Command, srcs []merge.Source, out string) error {
	w := cmd.OutOrStdout()
	o, err := merge.Run(cmd.Context(), srcs)
	if err != nil {
		return usageError{err}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return usagef("merge: --out %s: %v", out, unwrapPathErr(err))
	}
	var verdict error
	if b := o.Bench; b != nil {
		if err := writeMergedBench(out, b); err != nil {
			return err
		}
		fmt.Fprintf(w, "bench: %d shards, %d runs; report: %s\n", len(b.Report.Shards), len(b.Report.Runs), filepath.Join(out, bench.ReportFile))
	}
	if m := o.Mutants; m != nil {
		b, err := m.JSON()
		if err != nil {
			return err
		}
		if err := reports.ValidateMutantsJSON(b); err != nil {
			return fmt.Errorf("merge: the merged mutants report does not match its schema (a bug): %w", err)
		}
		path := filepath.Join(out, "mutants.json")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		if _, err := reports.WriteMutantsHeatmap(out, m); err != nil {
			return err
		}
		if err := m.WriteSummary(w); err != nil {
			return err
		}
		fmt.Fprintf(w, "mutants: %d shards; report: %s\n", len(m.Shards), path)
		if m.Trust != "" {
			verdict = fmt.Errorf("merge: the mutants scores cannot be trusted: %s", m.Trust)
		}
	}
	if r := o.Check; r != nil {
		b, err := r.JSON()
		if err != nil {
			return err
		}
		if err := reports.ValidateCheckJSON(b); err != nil {
			return fmt.Errorf("merge: the merged check result does not match its schema (a bug): %w", err)
		}
		path := filepath.Join(out, r.Checker+"-merged.json")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		fmt.Fprint(w, r.Summary())
		fmt.Fprintf(w, "%d shards; result: %s\n", len(r.Shards), path)
		switch r.Verdict {
		case checkers.Fail:
			v := r.Violations[0]
			verdict = violationError{msg: fmt.Sprintf("%s checker failed on %s (%s): %d distinct violations, the first found %d times; %s", r.Checker, r.Engine, r.SeedLabel(), len(r.Violations), v.Count, v.Replay)}
		case checkers.Unknown, checkers.Interrupted:
			verdict = fmt.Errorf("%s checker on %s (%s): %s: %s", r.Checker, r.Engine, r.SeedLabel(), r.Verdict, r.Reason)
		}
	}
	if o.Skipped > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "merge: skipped %d results that are not shards (a --jobs worker's, covered by its shard's)\n", o.Skipped)
	}
	return verdict
}

// writeMergedBench writes the merged bench report, its runs' histograms
// and the per-op merged histograms.
func writeMergedBench(out string, b *merge.Bench) error {
	b.Report.Config.Out = out
	if _, err := bench.WriteReport(out, b.Report, b.Histograms); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	keys := make([]string, 0, len(b.Merged))
	for k := range b.Merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		enc, err := b.Merged[k].Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return fmt.Errorf("merge: histogram %s: %w", k, err)
		}
		name := "merged-" + strings.NewReplacer("/", "-", ":", "_", ",", "_", "=", "_").Replace(k) + ".hdr"
		if err := os.WriteFile(filepath.Join(out, name), append(enc, '\n'), 0o644); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	return nil
}
