package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildInfo describes the running binary, for `harness version` and every
// report.
type buildInfo struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
	Deps      map[string]string
}

func readBuildInfo() buildInfo {
	b := buildInfo{GoVersion: runtime.Version(), Deps: map[string]string{}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Module, b.Version = bi.Main.Path, bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
		for _, d := range bi.Deps {
			b.Deps[d.Path] = d.Version
		}
	}
	if b.Commit == "" {
		// Built without VCS stamping (go run, -buildvcs=false): ask git.
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			b.Commit = strings.TrimSpace(string(out))
			if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
				b.Modified = len(strings.TrimSpace(string(st))) > 0
			}
		}
	}
	return b
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the harness version, commit, Go version and engine library versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := readBuildInfo()
			w := cmd.OutOrStdout()
			commit := b.Commit
			if commit == "" {
				commit = "unknown"
			}
			if b.Modified {
				commit += " (modified)"
			}
			fmt.Fprintf(w, "harness %s\ncommit %s\n%s %s/%s\n", orDevel(b.Version), commit, b.GoVersion, runtime.GOOS, runtime.GOARCH)
			for _, p := range []string{"github.com/cockroachdb/pebble/v2", "github.com/dgraph-io/badger/v4", "go.etcd.io/bbolt"} {
				if v, ok := b.Deps[p]; ok {
					fmt.Fprintf(w, "%s %s\n", p, v)
				}
			}
			return nil
		},
	}
}

func orDevel(v string) string {
	if v == "" || v == "(devel)" {
		return "(devel)"
	}
	return v
}
