// Package merge joins the results the shards of a fleet run wrote
// (--shard i/N, package shard) into the result one machine would have
// written: harness merge.
//
// # What it joins
//
//   - Check Results (checkers.Result with a shard): verdicts combined
//     (the gravest), cases and ops summed, through checkers/jobs.Merge,
//     the same join harness check --jobs makes of its workers. Shard i of
//     N with --jobs J ran seeds S+iJ .. S+iJ+J-1, so the merged Result
//     covers seeds S .. S+NJ-1 as a --jobs NJ run would. Violations are
//     deduplicated by their signature: the minimized ops (or, for one
//     that was not reproduced, its summary). One bug found from many
//     seeds is one entry, with its Count and the shortest repro.
//   - Bench reports (bench.Report with config.shard): every shard's runs,
//     ordered by repetition as one process would have interleaved them,
//     each with its histograms, decoded from the exact encoding the bench
//     keeps (.hdr) and re-encoded; and per engine, workload and op type,
//     every repetition's histogram merged bucket by bucket (Merged).
//     Timelines stay per run: each is counted from the start of its run's
//     measured phase, so the runs' seconds already line up.
//   - Mutants reports (mutants.Report with a shard): the union of the
//     rows, scored again; the baseline and the canary, which every shard
//     runs, keep the worst cell any shard saw for each detector, so one
//     shard's untrustworthy run makes the merged one untrustworthy.
//
// # Rules
//
// A merge joins one run: results of different commits, different option
// sets or different shard counts are refused with one line naming two
// files that disagree. A shard read twice (the same folder given twice, a
// copy in another folder) counts once: shards are keyed by their index.
// Shards missing from the run leave a pass unearned: the merged check's
// verdict is then unknown, with the missing shards named.
package merge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/checkers/jobs"
	"github.com/gauntlet-kv/gauntlet/internal/shard"
	"github.com/gauntlet-kv/gauntlet/mutants"
)

// Source is where shards' results are read from: a directory tree or a
// bucket prefix (package store). Keys are slash-separated and relative to
// the source's root.
type Source interface {
	// List returns every key under the root.
	List(ctx context.Context) ([]string, error)
	// Read returns the bytes of key.
	Read(ctx context.Context, key string) ([]byte, error)
	// String names the source in messages.
	String() string
}

// Outcome is what a merge found, one run of each kind at most.
type Outcome struct {
	Check   *checkers.Result
	Bench   *Bench
	Mutants *mutants.Report
	// Skipped counts result files that are not shards (a --jobs worker's
	// Result inside a shard's folder: the shard's own Result covers it).
	Skipped int
}

// Bench is merged bench shards: the report (its runs in repetition order)
// and, in the order of Report.Runs, each run's histograms by op type.
type Bench struct {
	Report     *bench.Report
	Histograms []map[string]*hdrhistogram.Histogram
	// Merged holds, by "<workload>/<engine>/<op>", every repetition's
	// histogram of that op merged.
	Merged map[string]*hdrhistogram.Histogram
}

// doc is one result file of one shard.
type doc struct {
	where string // source and key, for messages
	src   Source
	key   string
	meta  shard.Meta
}

// Run reads every result in srcs and merges each kind's shards.
func Run(ctx context.Context, srcs []Source) (Outcome, error) {
	var out Outcome
	var checks, benches, muts []doc
	checkBy := map[string]checkers.Result{}
	benchBy := map[string]*bench.Report{}
	mutBy := map[string]mutants.Report{}
	for _, src := range srcs {
		keys, err := src.List(ctx)
		if err != nil {
			return out, fmt.Errorf("merge: %s: %w", src, err)
		}
		sort.Strings(keys)
		for _, key := range keys {
			if !strings.HasSuffix(key, ".json") {
				continue
			}
			b, err := src.Read(ctx, key)
			if err != nil {
				return out, fmt.Errorf("merge: %s: %w", src, err)
			}
			d := doc{where: src.String() + "/" + key, src: src, key: key}
			var probe struct {
				Schema  string          `json:"schema"`
				Checker string          `json:"checker"`
				Verdict string          `json:"verdict"`
				Shard   *shard.Meta     `json:"shard"`
				Config  json.RawMessage `json:"config"`
			}
			if json.Unmarshal(b, &probe) != nil {
				continue // not a result (a cell file, a trace's sidecar)
			}
			switch {
			case probe.Schema == bench.SchemaVersion:
				var r bench.Report
				if err := json.Unmarshal(b, &r); err != nil {
					return out, fmt.Errorf("merge: %s: not a bench report: %v", d.where, err)
				}
				if r.Config.Shard == nil {
					out.Skipped++
					continue
				}
				d.meta = *r.Config.Shard
				benches = append(benches, d)
				benchBy[d.where] = &r
			case probe.Schema == mutants.Schema:
				var r mutants.Report
				if err := json.Unmarshal(b, &r); err != nil {
					return out, fmt.Errorf("merge: %s: not a mutants report: %v", d.where, err)
				}
				if r.Shard == nil {
					out.Skipped++
					continue
				}
				d.meta = *r.Shard
				muts = append(muts, d)
				mutBy[d.where] = r
			case probe.Schema == "" && probe.Checker != "" && probe.Verdict != "":
				if probe.Shard == nil {
					out.Skipped++
					continue
				}
				var r checkers.Result
				if err := json.Unmarshal(b, &r); err != nil {
					return out, fmt.Errorf("merge: %s: not a check result: %v", d.where, err)
				}
				d.meta = *r.Shard
				checks = append(checks, d)
				checkBy[d.where] = r
			}
		}
	}
	if len(checks)+len(benches)+len(muts) == 0 {
		names := make([]string, len(srcs))
		for i, s := range srcs {
			names[i] = s.String()
		}
		return out, fmt.Errorf("merge: no shard results in %s (a shard's result names its shard: run check, bench or mutants with --shard i/N)", strings.Join(names, ", "))
	}
	if len(checks) > 0 {
		uniq, missing, err := oneRun("check", checks)
		if err != nil {
			return out, err
		}
		var rs []checkers.Result
		for _, d := range uniq {
			rs = append(rs, checkBy[d.where])
		}
		r := Check(rs, missing)
		out.Check = &r
	}
	if len(benches) > 0 {
		uniq, missing, err := oneRun("bench", benches)
		if err != nil {
			return out, err
		}
		if len(missing) > 0 {
			return out, fmt.Errorf("merge: bench shards %s of %d missing: run them (a bench's repetitions would be missing from the report)", ints(missing), uniq[0].meta.Count)
		}
		b, err := mergeBench(ctx, uniq, benchBy)
		if err != nil {
			return out, err
		}
		out.Bench = b
	}
	if len(muts) > 0 {
		uniq, missing, err := oneRun("mutants", muts)
		if err != nil {
			return out, err
		}
		var rs []mutants.Report
		for _, d := range uniq {
			rs = append(rs, mutBy[d.where])
		}
		r, err := Mutants(rs)
		if err != nil {
			return out, err
		}
		if len(missing) > 0 {
			r.Trust = strings.TrimPrefix(r.Trust+fmt.Sprintf("; shards %s of %d missing: their mutants were not run", ints(missing), uniq[0].meta.Count), "; ")
		}
		out.Mutants = &r
	}
	return out, nil
}

// oneRun checks that docs are shards of one run (one commit, one option
// set, one count), keeps one doc per shard index (the first, in source and
// key order), and returns them by index with the indexes missing.
func oneRun(kind string, docs []doc) (uniq []doc, missing []int, err error) {
	first := docs[0]
	seen := map[int]bool{}
	for _, d := range docs {
		switch {
		case d.meta.Commit != first.meta.Commit:
			return nil, nil, fmt.Errorf("merge: %s shards of different commits: %s ran %s, %s ran %s: merge one run at a time", kind, first.where, first.meta.Commit, d.where, d.meta.Commit)
		case d.meta.Options != first.meta.Options:
			return nil, nil, fmt.Errorf("merge: %s shards of different option sets: %s ran %q, %s ran %q: merge one run at a time", kind, first.where, first.meta.Options, d.where, d.meta.Options)
		case d.meta.Count != first.meta.Count:
			return nil, nil, fmt.Errorf("merge: %s shards of different counts: %s is of %d, %s of %d: merge one run at a time", kind, first.where, first.meta.Count, d.where, d.meta.Count)
		}
		if !seen[d.meta.Index] {
			seen[d.meta.Index] = true // a shard read twice counts once
			uniq = append(uniq, d)
		}
	}
	sort.SliceStable(uniq, func(i, j int) bool { return uniq[i].meta.Index < uniq[j].meta.Index })
	for i := range first.meta.Count {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	return uniq, missing, nil
}

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// Check joins check shards' Results, one per shard, in shard order (see
// the package documentation); missing are the shard indexes absent.
func Check(rs []checkers.Result, missing []int) checkers.Result {
	m := jobs.Merged{Checker: rs[0].Checker, Seed: rs[0].Seed, Engine: rs[0].Engine}
	var metas []shard.Meta
	for _, r := range rs {
		m.Seed = min(m.Seed, r.Seed)
		m.Jobs += max(r.Jobs, 1)
		m.Cases += r.Cases // each shard's own reason says if its budget ran out
		m.Elapsed = max(m.Elapsed, r.Elapsed)
		metas = append(metas, *r.Shard)
	}
	res := jobs.Merge(rs, m)
	res.Violations = Dedup(res.Violations)
	res.Shards = metas
	if res.Jobs <= 1 {
		res.Jobs = 0
	}
	var reasons []string
	if res.Reason != "" {
		reasons = append(reasons, res.Reason)
	}
	const shown = 3 // shards' own reasons named; a fleet may have thousands
	more := 0
	for _, r := range rs {
		if r.Reason != "" && r.Verdict != checkers.Unknown {
			if len(reasons) < shown {
				reasons = append(reasons, fmt.Sprintf("shard %s: %s", r.Shard.Shard(), r.Reason))
			} else {
				more++
			}
		}
	}
	if more > 0 {
		reasons = append(reasons, fmt.Sprintf("%d more shards with a reason", more))
	}
	if len(missing) > 0 {
		reasons = append(reasons, fmt.Sprintf("shards %s of %d missing", ints(missing), rs[0].Shard.Count))
		if res.Verdict == checkers.Pass {
			res.Verdict = checkers.Unknown // a pass over part of the seeds is not earned
		}
	}
	res.Reason = strings.Join(reasons, "; ")
	return res
}

// Signature is what makes two violations the same bug: the shape of their
// minimized ops. Shrinking makes a counterexample canonical up to its
// names: the same bug found from two seeds shrinks to put "k1", delete
// "k1", get "k1" in one and the same with "k2" in the other, with values
// of other sizes and seeds. So the keys are renamed by order of first
// appearance and value sizes and seeds dropped. A violation whose ops were
// not reproduced or minimized is known by its summary instead.
func Signature(v checkers.Violation) string {
	if v.NotReproduced != "" || v.NotMinimized != "" || len(v.Ops) == 0 {
		return "summary\n" + v.Summary
	}
	names := map[string]string{}
	var b strings.Builder
	b.WriteString("ops\n")
	for _, op := range v.Ops {
		op = quoted.ReplaceAllStringFunc(op, func(q string) string {
			n, ok := names[q]
			if !ok {
				n = fmt.Sprintf("<%d>", len(names))
				names[q] = n
			}
			return n
		})
		b.WriteString(strings.Join(strings.Fields(valueAttr.ReplaceAllString(op, "")), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// The parts of a trace op (workloads/TRACE.md) that name rather than
// shape it: a quoted key, a value's size and seed.
var (
	quoted    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	valueAttr = regexp.MustCompile(`\b(?:size|seed)=\d+`)
)

// Dedup keeps one violation per Signature, in the order of first
// appearance, each with its Count (the violations it stands for, counting
// those already merged) and the shortest repro among them.
func Dedup(vs []checkers.Violation) []checkers.Violation {
	var out []checkers.Violation
	at := map[string]int{}
	for _, v := range vs {
		n := max(v.Count, 1)
		sig := Signature(v)
		i, ok := at[sig]
		if !ok {
			at[sig] = len(out)
			v.Count = n
			out = append(out, v)
			continue
		}
		if len(v.Ops) < len(out[i].Ops) || len(v.Ops) == len(out[i].Ops) && v.OriginalOps < out[i].OriginalOps {
			n += out[i].Count
			out[i] = v
			out[i].Count = n
			continue
		}
		out[i].Count += n
	}
	return out
}

// mergeBench joins bench shards: their runs by repetition, each run's
// histograms read from its .hdr files, and the per-op merge.
func mergeBench(ctx context.Context, docs []doc, by map[string]*bench.Report) (*Bench, error) {
	first := by[docs[0].where]
	rep := *first
	rep.Config.Shard = nil
	rep.Runs = nil
	rep.Partial, rep.Reason = false, ""
	type run struct {
		r     bench.Run
		hists map[string]*hdrhistogram.Histogram
		order int
	}
	var runs []run
	for _, d := range docs {
		r := by[d.where]
		rep.Shards = append(rep.Shards, d.meta)
		rep.ElapsedSec = max(rep.ElapsedSec, r.ElapsedSec)
		if r.Started.Before(rep.Started) {
			rep.Started = r.Started
		}
		if r.Partial {
			rep.Partial = true
			rep.Reason = strings.TrimPrefix(rep.Reason+fmt.Sprintf("; shard %s: %s", d.meta.Shard(), r.Reason), "; ")
		}
		for i, ru := range r.Runs {
			hs := map[string]*hdrhistogram.Histogram{}
			for op, file := range ru.HistogramsHDR {
				key := path.Join(path.Dir(d.key), file)
				b, err := d.src.Read(ctx, key)
				if err != nil {
					return nil, fmt.Errorf("merge: %s: run %s on %s repetition %d: histogram %s: %w", d.where, ru.Workload, ru.Engine, ru.Repetition, file, err)
				}
				h, err := hdrhistogram.Decode(bytes.TrimSpace(b))
				if err != nil {
					return nil, fmt.Errorf("merge: %s/%s: not an HdrHistogram encoding: %v", d.src, key, err)
				}
				hs[op] = h
			}
			if len(ru.HistogramsHDR) == 0 && len(ru.Histograms) > 0 {
				return nil, fmt.Errorf("merge: %s: run %s on %s repetition %d keeps no exact histogram (.hdr): re-run the shard with this harness", d.where, ru.Workload, ru.Engine, ru.Repetition)
			}
			runs = append(runs, run{ru, hs, i})
		}
	}
	// One process runs repetition 1 of every pair, then 2, ...; a shard
	// keeps that order within its own repetitions.
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].r.Repetition < runs[j].r.Repetition })
	out := &Bench{Report: &rep, Merged: map[string]*hdrhistogram.Histogram{}}
	for _, r := range runs {
		rep.Runs = append(rep.Runs, r.r)
		out.Histograms = append(out.Histograms, r.hists)
		ops := make([]string, 0, len(r.hists))
		for op := range r.hists {
			ops = append(ops, op)
		}
		slices.Sort(ops)
		for _, op := range ops {
			h := r.hists[op]
			key := r.r.Workload + "/" + r.r.Engine + "/" + op
			if m, ok := out.Merged[key]; ok {
				if dropped := m.Merge(h); dropped > 0 {
					return nil, fmt.Errorf("merge: %s: %d values out of the histogram's range (a bug)", key, dropped)
				}
			} else {
				out.Merged[key] = hdrhistogram.Import(h.Export())
			}
		}
	}
	return out, nil
}

// Mutants joins mutants shards' reports: the union of their rows, the
// baseline's and canary's cells the worst any shard saw, scored again.
func Mutants(rs []mutants.Report) (mutants.Report, error) {
	var dets []mutants.Detector
	for _, s := range rs[0].Detectors {
		d, err := mutants.ParseDetector(s)
		if err != nil {
			return mutants.Report{}, fmt.Errorf("merge: mutants report: detector %q: %v", s, err)
		}
		dets = append(dets, d)
	}
	var rows []mutants.Row
	var origin []int // each row's place in the unsharded run
	at := map[string]int{}
	for _, r := range rs {
		p := 0
		for _, row := range r.Mutants {
			i, ok := at[row.Name]
			if !ok {
				at[row.Name] = len(rows)
				row.Cells = slices.Clone(row.Cells)
				rows = append(rows, row)
				// Shard i of N held mutants i, i+N, ... after the
				// baseline and the canary.
				o := rank(row.Name)
				if o == 2 {
					o += p*r.Shard.Count + r.Shard.Index
				}
				origin = append(origin, o)
			}
			if rank(row.Name) == 2 {
				p++
			}
			if !ok {
				continue
			}
			for di, c := range row.Cells {
				if di < len(rows[i].Cells) && worse(row.Name, c.Outcome, rows[i].Cells[di].Outcome) {
					rows[i].Cells[di] = c
				}
			}
		}
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return origin[idx[a]] < origin[idx[b]] })
	sorted := make([]mutants.Row, len(rows))
	for i, k := range idx {
		sorted[i] = rows[k]
	}
	rows = sorted
	var cells []mutants.Cell
	for i := range rows {
		if len(rows[i].Cells) != len(dets) {
			return mutants.Report{}, fmt.Errorf("merge: mutants report: row %s has %d cells for %d detectors", rows[i].Name, len(rows[i].Cells), len(dets))
		}
		cells = append(cells, rows[i].Cells...)
		rows[i].Cells = nil
	}
	out := mutants.Build(rows, dets, cells)
	first := rs[0]
	out.Commit, out.Command, out.Started, out.Budget, out.Seed = first.Commit, first.Command, first.Started, first.Budget, first.Seed
	for _, r := range rs {
		out.Shards = append(out.Shards, *r.Shard)
		out.Elapsed = max(out.Elapsed, r.Elapsed)
		if r.Started.Before(out.Started) {
			out.Started = r.Started
		}
	}
	return out, nil
}

func rank(name string) int {
	switch name {
	case mutants.Baseline:
		return 0
	case mutants.Canary:
		return 1
	}
	return 2
}

// worse says whether outcome a of a row's cell is worse for trust than b:
// for the baseline anything but survived, for the canary anything but
// killed. Other rows run on one shard only.
func worse(row string, a, b mutants.Outcome) bool {
	switch row {
	case mutants.Baseline:
		return b == mutants.Survived && a != mutants.Survived
	case mutants.Canary:
		return b == mutants.Killed && a != mutants.Killed
	}
	return false
}

// Dir is a directory tree as a Source.
type Dir string

// List returns every regular file's path under d, slash-separated.
func (d Dir) List(_ context.Context) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(string(d), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			rel, err := filepath.Rel(string(d), p)
			if err != nil {
				return err
			}
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	return keys, err
}

// Read returns the file at key under d.
func (d Dir) Read(_ context.Context, key string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(key)))
}

func (d Dir) String() string { return string(d) }
