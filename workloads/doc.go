// Package workloads is where every benchmark and checker draws its
// operations: the YCSB core workloads, the key and value-size distributions
// behind them, a biased op generator for checkers, and the trace format that
// records what ran so it can be replayed against any engine.
//
// All randomness comes from a *rand.Rand (math/rand/v2) passed in; nothing
// reads a global source or depends on map order. The same seed gives the
// same operations on every machine, and tests pin a few so that a change
// which breaks this is seen.
//
// # Operations
//
// An Op is one operation: a Kind (OpGet, OpPut, OpDelete, OpList, the
// maintenance ops, reboots and disk faults, OpInsert, OpReadModifyWrite), a
// Key, and for writes a value Size and Seed. Values are never stored: they
// are Size bytes made by FillValue from Seed (wyrand, about 12 GB/s), so an
// op is small, a trace records only "size=4096 seed=17", and a checker can
// compare what it read with SeedDigest(size, seed) without keeping the
// bytes (ValueDigest digests bytes read back).
//
// Apply runs one Op against an engine.Engine: Get, Put, Delete, List (via
// engine.Lister; n bounds the keys, Op.ListMore), read-modify-write (Get
// then Put), and maintenance via engine.Maintainer. Reboots and disk faults
// belong to the checker: Apply returns an error wrapping ErrCheckerOp for
// them. It is the one definition of what an op does: the checkers replay
// with it and the bench driver runs every op through ApplyValue (Apply with
// the value made beforehand, outside the op's clock), whose Result counts
// the bytes the op moved.
//
// # YCSB workloads
//
// The six core workloads are YCSB's CoreWorkload with the properties of its
// workloads/workload[a-f] files:
//
//	ycsb-a  50% read, 50% update             zipfian    session store
//	ycsb-b  95% read, 5% update              zipfian    photo tagging
//	ycsb-c  100% read                        zipfian    profile cache
//	ycsb-d  95% read, 5% insert              latest     status updates
//	ycsb-e  95% scan, 5% insert              zipfian    threaded conversations
//	ycsb-f  50% read, 50% read-modify-write  zipfian    user database
//
// with YCSB's defaults: recordcount=1000 keys loaded before the run,
// operationcount=1000, fieldcount=10 × fieldlength=100 = 1000-byte values
// (one value per key: engines here have no fields, so an update writes the
// whole value), scans of 1 to 100 keys for ycsb-e (maxscanlength=100,
// uniform), and insertorder=hashed: key number n is named "user" followed by
// FNVHash64(n) in decimal, exactly as YCSB's buildKeyName, so key 0 is
// "user6284781860667377211". The extras are fill and fill-64k (inserts only,
// in ascending key order: "user000000000042"), and durable-put (4 KiB
// updates to uniform keys with Workload.Durable set: the bench makes each
// one durable before counting it, by whatever means it chooses).
//
// Named lists them all, as rows for a table.
//
// # Writing a spec
//
// A spec is a named workload followed by terms, or terms alone:
//
//	ycsb-a
//	ycsb-a,records=100000,values=4KiB
//	ycsb-b,keys=uniform,ops=1000000
//	read=50,update=50,keys=zipf:0.99,records=1000000,values=16KiB
//	insert=1,read=9,keys=latest,values=uniform:100:64KiB
//	update=1,keys=hotspot:0.1:0.9,values=csv:sizes.csv
//
// Terms are comma separated; each is given at most once:
//
//	read=P update=P insert=P scan=P rmw=P delete=P
//	        op proportions: non-negative numbers, normalized, at least one
//	        above zero. Giving any replaces the named workload's whole mix.
//	keys=DIST          request distribution over existing keys:
//	        uniform                     every loaded key alike
//	        zipf[:θ]                    YCSB's "zipfian" (scrambled), θ default 0.99
//	        latest[:θ]                  newest keys most popular, zipfian by age
//	        hotspot[:DATA:OPS]          OPS of the draws go to the first DATA
//	                                    fraction of keys (default 0.2:0.8)
//	        sequential                  key 0, 1, 2, ... in turn, cycling
//	        exponential[:PCT:FRAC]      PCT% of draws within FRAC×records of the
//	                                    newest key (default 95:0.8571428571)
//	records=N          keys loaded before the run (default 1000)
//	ops=N              operations in the run (default 1000)
//	values=SIZES       value sizes:
//	        SIZE                        fixed: 100, 4KiB, 1MiB (engine.ParseSize)
//	        uniform:MIN:MAX             uniform, inclusive
//	        csv:PATH                    a histogram file of size,weight lines
//	        boundary[:CHUNK:EXTENT[:PAGE]]  0, 1, and page, chunk and extent
//	                                    sizes ±1 (default 4KiB, 64KiB, 1MiB)
//	fields=N fieldlength=SIZE   YCSB's value layout: values of N×SIZE bytes
//	scanmin=N scanmax=N         scan length, uniform (default 1 and 1000)
//	insertorder=hashed|ordered  key names from the hash of the key number
//	                            (default) or the number itself
//	pad=N              zero-pad key numbers to N digits (default 1)
//	durable=BOOL       set Workload.Durable
//
// A bad spec gives one line naming the term and what is valid.
// Config.String writes any config back as a spec with every term, which is
// what reports echo and what ParseConfig reads back to the same Config.
//
// # Distributions
//
// Each distribution is a small type with a Next method drawing from a
// *rand.Rand, ported from the YCSB generator of the same name:
//
//   - Uniform: integers in [Min, Max].
//   - Zipfian: item i has probability proportional to 1/(i+1)^θ, by the
//     algorithm of Gray et al. that YCSB's ZipfianGenerator uses (exact for
//     the two most popular items, a closed-form approximation beyond),
//     including its incremental zeta when the item count grows. Zeta over
//     large counts uses the Euler–Maclaurin formula, so a billion keys cost
//     microseconds to set up.
//   - ScrambledZipfian: a zipfian over 10^10 items hashed with FNVHash64 into
//     the key space, so popular keys are scattered; this is what YCSB means
//     by requestdistribution=zipfian. Its key space is sized for the
//     inserts the run expects (records + 2 × ops × insert proportion), and a
//     key not yet inserted is redrawn, both as in YCSB.
//   - Latest: YCSB's SkewedLatestGenerator, newest - zipfian(newest).
//   - Hotspot: a hot set receiving a fixed share of the draws.
//   - Sequential: Min, Min+1, ..., Max, Min, ...
//   - Exponential: YCSB's ExponentialGenerator, parameterised by a
//     percentile and a range.
//
// Value sizes implement Sizes: FixedSize, UniformSize, Histogram (read
// with ParseHistogram; errors name the file and line) and BoundarySizes.
//
// # Concurrent workers
//
// A Workload holds what its workers share; each worker draws from its own
// Generator with its own rng, WorkerRand(seed, worker), so workers never
// share a stream and a single worker's sequence is a function of its seed.
// Inserts take key numbers from one atomic counter (YCSB's
// transactioninsertkeysequence), so no key is inserted twice. Reads choose
// only among acknowledged keys: as YCSB's AcknowledgedCounterGenerator, the
// readable range grows only over a contiguous run of acknowledged inserts,
// so no worker reads a key whose insert another worker has drawn but not
// finished. A Generator acknowledges its previous insert when it draws the
// next op, which is right for closed-loop workers; an open-loop bench calls
// Generator.Ack when the insert completes. With several workers inserting,
// which worker gets which key number depends on scheduling; the run is
// reproducible per worker only for mixes without inserts. Sequential reads
// cycle per worker: each Generator starts at key 0.
//
// Workload.Check reports before a run what the engine lacks: ycsb-e scans,
// so it needs engine.Lister; values must fit the engine's limits.
//
// # Checkers: the biased generator
//
// Biased draws a checker's ops from an alphabet ordered simplest first
// (Alphabet: get, put, delete, list, index-flush, superblock-flush,
// cache-flush, compact, reclaim, clean-reboot, dirty-reboot, fail-disk-once)
// with configurable weights (0 disables an op). Gets, deletes and list
// starts mostly (HitPercent, default 90%) pick keys already put; the key
// space is small (Keys, default 64) and readable ("k17"), or binary with
// lengths at 1 byte and engine.KeyMax (BinaryKeys); value sizes cluster at
// 0, 1, small, and page, chunk and extent sizes ±1. Every choice goes
// through a Source, func(label string, n int) int: RandSource adapts a
// *rand.Rand and RapidSource a *rapid.T, and Biased.Rapid returns a
// rapid.Generator[Op], so a rapid state machine draws ops and its shrinker
// pulls each choice toward 0 — the first op of the alphabet, a key already
// put, the first key, an empty value. Value seeds come from (Seed, op
// index), so every put writes distinct bytes.
//
// # Traces
//
// A trace is a text file, one op per line, that records exactly what ran
// and replays it against any engine; TRACE.md specifies it:
//
//	# gauntlet-trace v1
//	# seed=42 workload="ycsb-a"
//	put "user6284781860667377211" size=1000 seed=9163270522386315398
//	get "user8517097267634966620"
//	list "k1" end="k9" n=10
//	compact
//	# end ops=4
//
// WriteTrace and TraceWriter write one, ParseTrace reads one, and Replay
// applies one. The parser reports the line and the problem for any
// malformed or truncated input (the end line's op count catches a trace cut
// at a line boundary) and never panics; FuzzParseTrace holds it to that.
package workloads
