package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
)

// newShardstoreCmd holds shardstore's own maintenance verbs: those that
// act on a device rather than measure or check an engine.
func newShardstoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shardstore",
		Short: "Maintenance of shardstore devices: format",
		Args:  cobra.NoArgs,
	}
	var (
		dir   string
		spec  string
		force bool
	)
	format := &cobra.Command{
		Use:   "format",
		Short: "Write an empty store to a shardstore device; --force to erase one that holds data",
		Long: `format writes an empty store to the device shardstore would open in --dir (the
file named by the spec's path=, created with size= if absent, or a block device).

shardstore formats a blank device (all zeros) by itself when it opens one. It never
formats a device that holds data: a store whose superblock is damaged is refused on
open with a corruption error, so that no key is lost by accident. This verb is the
one way to reuse such a device, and without --force it refuses it too, as well as
a device that holds a valid store. With --force every key on the device is lost.`,
		Example: `  harness shardstore format --dir /mnt/ss --force
  harness shardstore format --dir /srv --engine shardstore:path=/dev/nvme1n1,extent=16MiB --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("shardstore format: --dir is required (the directory holding the device file)")
			}
			d, o, err := resolveEngine(spec)
			if err != nil {
				return err
			}
			if d.Name != "shardstore" {
				return usagef("shardstore format: --engine %s: give a shardstore spec, e.g. shardstore:extent=16MiB", spec)
			}
			if err := shardstore.FormatDir(dir, shardstore.OptionsFromSpec(o), force); err != nil {
				if errors.Is(err, engine.ErrInvalidArgument) || !force {
					// Nothing was written: the device holds data the user
					// must choose to erase, or the options are wrong.
					return usageError{err}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "formatted the shardstore device in %s (%s)\n", dir, o.Spec())
			return nil
		},
	}
	format.Flags().StringVar(&dir, "dir", "", "directory of the device file (required)")
	format.Flags().StringVar(&spec, "engine", "shardstore", "shardstore spec: path=, size=, extent= of the device")
	format.Flags().BoolVar(&force, "force", false, "erase a device that holds data: every key on it is lost")
	cmd.AddCommand(format)
	return cmd
}
