// Package reports renders the results of the harness for people and for
// machines: the bench's (a bench.Report) above all, and the HTML page that
// gathers every kind of result.
//
// # Outputs
//
// The JSON report itself is the source of truth; everything here is derived
// from it and can be regenerated from the file.
//
//   - BenchSchema and ValidateBenchJSON: the JSON Schema (draft 2020-12) of
//     the report, in schema/bench.schema.json. It pins every field's type and
//     range (counts and latencies are never negative, mode is closed-loop or
//     open-loop) and rejects unknown fields, so a reader written against it
//     never meets a surprise. Errors name the JSON pointer of each bad value:
//     "/runs/3/mode: value must be one of 'closed-loop', 'open-loop'".
//
//   - WriteSummary: a text table for the terminal, one row per engine and
//     workload. With repetitions, ops/s, MB/s and the percentiles are medians
//     over them, "±4%" is the largest deviation of one repetition's ops/s
//     from the median (a spread much larger than the gap between two engines
//     means the gap is noise), and max is the largest of all. Below the table,
//     per workload, the fastest engine and how many times faster it was than
//     each other one. Header lines name the machine, the device, and, if the
//     device was probed, its own limits: an engine doing 4 KiB synchronous
//     writes cannot beat 1/(fdatasync p50) per thread, and an engine
//     streaming large values cannot beat the sequential write bandwidth.
//
//   - WriteBenchfmt: the Go benchmark format, one line per run, which
//     benchstat reads unchanged ("benchstat old.txt new.txt" compares two
//     nights, aggregating repetitions and testing significance). ycsb-a is
//     named YCSB/A/<engine>; ns/op is the inverse of throughput, and the
//     p50-ns, p99-ns and p99.9-ns columns are the latency percentiles over
//     all op types.
//
//   - WritePlots: PNG (1200×800 px) and SVG images. Every title names the
//     workload, how it was driven (closed or open loop, threads) and the
//     machine: CPU, cores, file system and device. Each engine keeps one
//     colour across all plots of a report.
//
//   - ReadResults and WriteHTML: the HTML report (`harness report`,
//     `harness run`). ReadResults walks directories for bench reports
//     (with the .hgrm histograms beside them, from which the full latency
//     curves are rebuilt), check Results, mutants reports, comparisons and
//     gate verdicts, each validated against its schema (CheckSchemaJSON for
//     check Results) as it is read: a file that is not one is a *FileError
//     naming it. WriteHTML makes one self-contained page of them: no
//     script, nothing fetched, the plots of WritePlots and the mutants
//     heatmap embedded as SVG, a print style sheet.
//
//   - ReadHistory, History.Append and WriteTrendPlots: the nightly history
//     (`harness nightly`), JSON Lines of HistoryRecord (gauntlet.history/v1,
//     schema/history.schema.json), one line a night. Append validates a
//     record and writes it with O_APPEND in one write, so a reader never
//     sees half a night; ReadHistory keeps the complete lines of a file
//     whose last line was cut (History.Warning names the file and line, and
//     the next Append drops the cut tail), and any other bad line, or a
//     record of another layout, is a *HistoryError naming file and line.
//     A history found under the directories (or set on Results.History)
//     adds the trends to the HTML page, and each night folder's night.json
//     its record, a partial night said so.
//
// # Reading the plots
//
// latency-<workload>-<op>: latency against percentile, HdrHistogram style.
// The x axis is 1/(1-p) on a log scale, so each tick is one more nine: 0%,
// 90%, 99%, 99.9%, ... and the tail gets as much room as the body. The y axis
// is latency in µs, logarithmic when the values span more than two decades.
// Lower is better everywhere; a curve that turns up sharply at 99.9% is an
// engine with rare stalls (a compaction, a flush, a reclamation) that the
// median hides. Curves come from the full histograms when the runner passes
// spectra (SpectrumFromHistogram); otherwise from the report's p50, p90,
// p99, p99.9, p99.99 and max, drawn with a dot at each known point and
// "(summary)" in the legend: the straight segments between dots are not
// data. The max sits at the percentile of the last sample, 1/(1-p) = the
// number of samples. In open loop, latency is measured from each op's
// intended start, so queueing behind a stall counts; in closed loop it does
// not, and the curves flatter a stalling engine.
//
// throughput-<workload>: above, ops completed in each second of the
// measured phase; below, the p99 latency of each second. One line per run;
// repetitions share their engine's colour. Dips show stalls, a slow decline
// shows an engine degrading as its data grows; a dashed line is an open-loop
// target rate, which a healthy engine tracks.
//
// engines-ops and engines-p99: engines side by side, one panel per workload,
// each with its own scale (workloads differ by orders of magnitude, so
// compare bars within a panel, not across). Bars are medians of the
// repetitions; whiskers, when there are several, run from the lowest to the
// highest.
//
// trends: one row per workload, the median ops/s and p99 of each engine
// night by night (the last 30 by default), nights on the x axis. A red ring
// marks a figure significantly worse than the night before, by
// CompareReports over the two nights' repetitions.
//
// # Determinism
//
// The same report gives byte-identical text outputs: nothing depends on map
// order. Workloads and engines keep the order in which they first appear in
// the report, which is the order the user asked for them.
package reports
