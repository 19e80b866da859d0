package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/internal/provenance"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the harness version, commit, Go version and engine library versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := provenance.Read()
			w := cmd.OutOrStdout()
			commit := b.Commit
			if b.Modified {
				commit += " (modified)"
			}
			if b.Commit == provenance.Unknown {
				commit += " (" + b.From + ")"
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
