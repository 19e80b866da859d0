package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/workloads"
)

func newWorkloadsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "workloads",
		Short: "List the named workloads with their op mixes, key and value distributions",
		Long: `workloads lists the named workloads. Use a name, a name with overrides, or a
spec of your own wherever a workload is asked for:

  ycsb-a
  ycsb-a,records=100000,values=4KiB
  read=50,update=50,keys=zipf:0.99,records=1000000,values=16KiB
  read=95,insert=5,keys=latest,values=csv:sizes.csv

Terms: read= update= insert= scan= rmw= delete= (proportions), keys=uniform|zipf[:θ]|
latest[:θ]|hotspot[:DATA:OPS]|sequential|exponential[:PCT:FRAC], records=N, ops=N,
values=SIZE|uniform:MIN:MAX|csv:PATH|boundary[:CHUNK:EXTENT[:PAGE]], fields=N,
fieldlength=SIZE, scanmin=N, scanmax=N, insertorder=hashed|ordered, pad=N, durable=BOOL.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, workloads.InfoHeader)
			for _, i := range workloads.Named() {
				fmt.Fprintln(tw, i.String())
			}
			return tw.Flush()
		},
	}
}
