package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/reports"
)

func newReportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report DIR...",
		Short: "Gather every result in directories into one self-contained HTML page",
		Long: `report reads every result under the directories (bench reports and their
histograms, check Results, mutants reports, comparisons written by compare --json,
gate verdicts) and writes one HTML page of them: the environment and command of
each bench, its summary table with each engine against the best peer and against
the device probe, latency spectra and throughput timelines, every check's verdict
with its violations, replay commands and trace links, the mutation heatmap and
scores, comparisons and gate verdicts.

The page fetches nothing: plots are SVG inside it, and it needs no script. It
reads on a laptop screen and prints. It is written to DIR/report.html (the first
DIR) unless --out names a file.

Each result file is checked against its schema as it is read: a truncated,
corrupt or foreign file stops the report with one line naming it and what is
wrong (exit 2). A mutants run's cells/ and a check's job-N/ worker directories
are parts of a result, not results, and are skipped.`,
		Example: `  harness report out/bench-20260105-120000
  harness report out/ --out /tmp/night.html`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("report: name the directories holding results (harness report DIR...)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, dirs []string) error {
			path, err := writeHTMLReport(dirs, out, commandLine(cmd))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", path)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the HTML file to write (default DIR/"+reports.HTMLFile+", in the first DIR)")
	return cmd
}

// writeHTMLReport reads every result under dirs and writes the page to
// out (default: report.html in the first of dirs), returning its path.
// Bad results, an empty directory and an unwritable place are usage
// errors: the user's to fix.
func writeHTMLReport(dirs []string, out, command string) (string, error) {
	return writeHTMLReportWith(dirs, out, command, nil, 0)
}

// writeHTMLReportWith is writeHTMLReport with a history whose last nights
// the page draws as trends (nil: only a history file found under dirs).
func writeHTMLReportWith(dirs []string, out, command string, hist *reports.History, nights int) (string, error) {
	res, err := reports.ReadResults(dirs...)
	var fe *reports.FileError
	var he *reports.HistoryError
	if err == nil && hist != nil {
		res.History = hist
	}
	switch {
	case errors.As(err, &fe) || errors.As(err, &he):
		return "", usagef("report: %v", err)
	case err != nil:
		return "", usagef("report: %v (give directories holding results)", err)
	case res.Len() == 0:
		return "", usagef("report: no results found in %s (no bench.json, check Result, mutants.json, gate.json or comparison; run harness run, bench or check first)", strings.Join(dirs, ", "))
	}
	if out == "" {
		out = filepath.Join(dirs[0], reports.HTMLFile)
	}
	var page bytes.Buffer
	if err := reports.WriteHTML(&page, res, reports.HTMLOptions{Dir: filepath.Dir(out), Generated: time.Now(), Command: command, Nights: nights}); err != nil {
		return "", err
	}
	// Through a temporary file, so an existing page is never left half
	// written.
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return "", usagef("report: cannot write %s: %v (choose a writable --out)", out, unwrapPathErr(err))
	}
	_, err = tmp.Write(page.Bytes())
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("report: write %s: %v", out, unwrapPathErr(err))
	}
	return out, nil
}
