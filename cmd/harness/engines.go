package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/badger"
	"github.com/gauntlet-kv/gauntlet/engine/bbolt"
	"github.com/gauntlet-kv/gauntlet/engine/model"
	"github.com/gauntlet-kv/gauntlet/engine/pebble"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore"
)

// drivers is the one table of engines the harness knows. Adding an engine is
// one adapter package and one line here.
func drivers() engine.Drivers {
	return engine.Drivers{
		shardstore.Driver(),
		pebble.Driver(),
		badger.Driver(),
		bbolt.Driver(),
		model.Driver(),
	}
}

// resolveEngine parses an engine spec against the table; every failure is a
// usage error.
func resolveEngine(spec string) (engine.Driver, engine.Options, error) {
	d, o, err := drivers().Resolve(spec)
	if err != nil {
		return d, o, usageError{err}
	}
	return d, o, nil
}

func newEnginesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "engines [name]",
		Short: "List the engines and their options with defaults",
		Long: `engines lists every engine the harness can drive, with each option's type,
default and meaning. Select an engine and set options with a spec string:

  --engine shardstore:extent=1MiB,sched=coalesce`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			table := drivers()
			if len(args) == 1 {
				d, err := table.Lookup(args[0])
				if err != nil {
					return usageError{err}
				}
				table = engine.Drivers{d}
			}
			if asJSON {
				return writeEnginesJSON(cmd.OutOrStdout(), table)
			}
			return writeEngines(cmd.OutOrStdout(), table)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the table as JSON")
	return cmd
}

func writeEngines(w io.Writer, table engine.Drivers) error {
	for i, d := range table {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s\n  %s\n", d.Name, d.Doc)
		if len(d.Options) == 0 {
			fmt.Fprintln(w, "  (no options)")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  OPTION\tTYPE\tDEFAULT\tMEANING")
		for _, o := range d.Options {
			kind := o.Kind.String()
			if o.Kind == engine.KindEnum {
				kind = joinChoices(o.Choices)
			}
			def := o.Default
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", o.Name, kind, def, o.Doc)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(d.Variants) > 0 {
			fmt.Fprintf(w, "  variants a check --adaptive may run a case on: %s\n", variantList(d.Variants))
		}
	}
	return nil
}

func variantList(vs [][]engine.Setting) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = target.VariantString(v)
	}
	return strings.Join(names, "; ")
}

func joinChoices(c []string) string {
	s := ""
	for i, x := range c {
		if i > 0 {
			s += "|"
		}
		s += x
	}
	return s
}

func writeEnginesJSON(w io.Writer, table engine.Drivers) error {
	type opt struct {
		Name    string   `json:"name"`
		Type    string   `json:"type"`
		Default string   `json:"default"`
		Choices []string `json:"choices,omitempty"`
		Doc     string   `json:"doc"`
	}
	type eng struct {
		Name    string `json:"name"`
		Doc     string `json:"doc"`
		Options []opt  `json:"options"`
		// Variants are Driver.Variants, each as a spec's options.
		Variants []string `json:"variants,omitempty"`
	}
	out := []eng{}
	for _, d := range table {
		e := eng{Name: d.Name, Doc: d.Doc, Options: []opt{}}
		for _, o := range d.Options {
			e.Options = append(e.Options, opt{o.Name, o.Kind.String(), o.Default, o.Choices, o.Doc})
		}
		for _, v := range d.Variants {
			e.Variants = append(e.Variants, target.VariantString(v))
		}
		out = append(out, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
