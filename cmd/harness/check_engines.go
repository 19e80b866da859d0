package main

import (
	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/target"
	"github.com/gauntlet-kv/gauntlet/engine"
)

// checkTargets resolves the --engine of a checker that compares several
// option sets (checkers.Checker.Engines): every spec of the list, each a
// target, all of one engine. It returns the first spec, which the rest of
// runCheck treats as the engine (its name, device and file names). For any
// other checker spec is one spec: no targets, spec itself.
func checkTargets(chk checkers.Checker, spec string) ([]target.Target, string, error) {
	if !chk.Engines {
		return nil, spec, nil
	}
	specs := engine.SplitSpecs(spec)
	if len(specs) < 2 {
		return nil, "", usagef("check %s: --engine %s: give at least two option sets of one engine, comma-separated (e.g. shardstore:sched=fifo,shardstore:sched=coalesce)", chk.Name, spec)
	}
	var out []target.Target
	var name string
	for _, s := range specs {
		d, o, err := resolveCheckEngine(s)
		if err != nil {
			return nil, "", err
		}
		if name == "" {
			name = d.Name
		} else if d.Name != name {
			return nil, "", usagef("check %s: --engine %s: %s is not %s: the option sets compared must be of one engine", chk.Name, spec, s, name)
		}
		tg, err := checkTarget(d, o)
		if err != nil {
			return nil, "", err
		}
		out = append(out, tg)
	}
	return out, specs[0], nil
}
