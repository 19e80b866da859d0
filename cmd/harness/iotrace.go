package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/engine/iotrace"
	"github.com/gauntlet-kv/gauntlet/reports"
)

// newIOTraceCmd is harness iotrace: the summary and plots of a per-IO
// trace that shardstore's io-trace= option recorded.
func newIOTraceCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "iotrace FILE",
		Short: "Summarize and plot a per-IO trace (shardstore:io-trace=FILE)",
		Long: `iotrace reads a trace of every device IO that an engine recorded
(--engine shardstore:io-trace=FILE, on a real or a simulated device) and prints
its totals, the IO size and seek distance histograms and the flush cadence; with
--out it also draws them, with the IOs in flight over time, into
DIR/iotrace.png and .svg. A trace of a simulated device is in its virtual time,
and says so.`,
		Example: `  harness bench --engine shardstore:device=hdd,io-trace=/tmp/hdd.iotrace --workload durable-put --duration 5s
  harness iotrace /tmp/hdd.iotrace --out out/iotrace`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, recs, err := iotrace.ReadFile(args[0])
			var te *iotrace.TruncatedError
			switch {
			case errors.As(err, &te):
				return usagef("iotrace: %v", strings.TrimPrefix(err.Error(), "iotrace: "))
			case err != nil:
				return usagef("iotrace %s: %v", args[0], unwrapPathErr(err))
			}
			if err := iotrace.Summarize(recs).Write(cmd.OutOrStdout(), h); err != nil {
				return err
			}
			if out == "" {
				return nil
			}
			files, err := reports.WriteIOTracePlots(out, filepath.Base(args[0]), h, recs)
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintln(cmd.OutOrStdout(), "plot:", f)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to draw the plots into (default: none, text only)")
	return cmd
}
