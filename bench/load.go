package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// LoadSummary is a run's load phase, reported as YCSB reports its own:
// the records loaded, how, how fast, and the latency of each call.
type LoadSummary struct {
	// Records is how many records were acknowledged (of Planned).
	Records int64 `json:"records"`
	Planned int64 `json:"planned"`
	Threads int   `json:"threads"`
	// Batch is the records per call: through engine.Batcher when Batched,
	// else 1 (one Put each).
	Batch   int  `json:"batch"`
	Batched bool `json:"batched"`
	// ElapsedSec includes the Sync that ends the load (SyncSec of it).
	ElapsedSec    float64 `json:"elapsed_sec"`
	SyncSec       float64 `json:"sync_sec"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	// Latency is per call: one put, or one batch of Batch records.
	Latency OpSummary `json:"latency"`
	// Ended says why the load stopped short of Planned (interrupted, a
	// full device, an engine error); the figures cover it until then.
	Ended string `json:"ended,omitempty"`
}

// loadThreads is the load's client count: --load-threads, or the run's
// threads but at least LoadThreadsMin (a one-thread workload still loads
// its million records in parallel, as YCSB's load phase does).
func (r *Runner) loadThreads(threads int) int {
	if r.Config.LoadThreads > 0 {
		return r.Config.LoadThreads
	}
	return max(threads, LoadThreadsMin)
}

// load loads p's records into eng with the load's threads, through the
// engine's batches where it has them, then syncs: the measured phase
// starts from durable state, as a restarted production node would. It
// returns what it measured, also when it stops early (ctx ended, a full
// device, an engine error), with the error that stopped it.
func (r *Runner) load(ctx context.Context, eng engine.Engine, p *plan, threads int) (*LoadSummary, error) {
	batcher, _ := eng.(engine.Batcher)
	batch := r.Config.LoadBatch
	if batcher == nil || batch <= 1 {
		batcher, batch = nil, 1
	}
	sum := &LoadSummary{Planned: max(p.records, 0), Threads: threads, Batch: batch, Batched: batcher != nil}
	var loaded, bytes atomic.Int64
	r.enter("preloading", &loaded)
	hists := make([]*hdrhistogram.Histogram, threads)
	errs := make([]error, threads)
	since := phaseClock(eng) // virtual time on a simulated device
	clients := &clientTasks{ctl: conc.Active()}
	for w := range threads {
		hists[w] = newHistogram()
		clients.start(func() {
			lw := loadWorker{ctx: ctx, eng: eng, batcher: batcher, hist: hists[w], loaded: &loaded, bytes: &bytes}
			errs[w] = lw.run(p, w, threads, batch)
		})
	}
	clients.wait()
	load := since()
	err := errors.Join(errs...)
	if err == nil {
		st := since()
		if serr := eng.Sync(ctx); serr != nil {
			err = fmt.Errorf("sync after the load: %w", serr)
		}
		sum.SyncSec = (since() - st).Seconds()
	}
	all := newHistogram()
	for _, h := range hists {
		all.Merge(h)
	}
	elapsed := load + time.Duration(sum.SyncSec*float64(time.Second))
	sum.Records, sum.ElapsedSec = loaded.Load(), elapsed.Seconds()
	calls := all.TotalCount()
	sum.Latency = summarize(all, calls, 0, 0, load)
	if s := elapsed.Seconds(); s > 0 {
		sum.RecordsPerSec = float64(sum.Records) / s
		sum.MBPerSec = float64(bytes.Load()) / 1e6 / s
	}
	switch {
	case ctx.Err() != nil:
		sum.Ended = fmt.Sprintf("interrupted after %d of %d records", sum.Records, sum.Planned)
		return sum, ctx.Err()
	case errors.Is(err, engine.ErrNoSpace):
		sum.Ended = fmt.Sprintf("the device filled up after %d of %d records: give the engine a larger device (size=) or the workload fewer records (records=)", sum.Records, sum.Planned)
		return sum, FatalError{fmt.Errorf("load: %s: %w", sum.Ended, err)}
	case err != nil:
		sum.Ended = fmt.Sprintf("failed after %d of %d records", sum.Records, sum.Planned)
		return sum, FatalError{fmt.Errorf("load: %w", err)}
	}
	return sum, nil
}

// LoadBatchBytesMax ends a load batch early once its keys and values reach
// it: a thousand 8 MiB shards would be 8 GiB in one call, on every load
// thread at once.
const LoadBatchBytesMax = 64 << 20

// loadWorker is one client of the load.
type loadWorker struct {
	ctx     context.Context
	eng     engine.Engine
	batcher engine.Batcher // nil: one put per record
	hist    *hdrhistogram.Histogram
	loaded  *atomic.Int64
	bytes   *atomic.Int64
	kvs     []engine.KV
	arena   []byte
	n       int64 // key and value bytes of kvs
}

// run loads worker w's share of the records (key numbers w, w+threads, …)
// in calls of batch records.
func (lw *loadWorker) run(p *plan, w, threads, batch int) error {
	var buf []byte
	for op := range p.load(w, threads) {
		if err := lw.ctx.Err(); err != nil {
			return err
		}
		if lw.batcher == nil {
			start := time.Now()
			if _, err := workloads.ApplyValue(lw.ctx, lw.eng, op, opValue(op, &buf)); err != nil {
				return fmt.Errorf("load %s: %w", op.Key, err)
			}
			record(lw.hist, time.Since(start))
			lw.loaded.Add(1)
			lw.bytes.Add(int64(len(op.Key) + op.Size))
			continue
		}
		lw.add(op)
		if len(lw.kvs) == batch || lw.n >= LoadBatchBytesMax {
			if err := lw.flush(); err != nil {
				return err
			}
		}
	}
	if lw.batcher != nil && len(lw.kvs) > 0 {
		return lw.flush()
	}
	return nil
}

// add appends op's key and value to the batch, the value filled into the
// batch's arena (so every value of a batch stays valid until its call).
func (lw *loadWorker) add(op workloads.Op) {
	if len(lw.kvs) == 0 {
		lw.arena, lw.n = lw.arena[:0], 0
	}
	if len(lw.arena)+op.Size > cap(lw.arena) {
		// A new arena: the earlier values keep pointing into the old one.
		lw.arena = make([]byte, 0, max(2*cap(lw.arena), op.Size, 64<<10))
	}
	start := len(lw.arena)
	lw.arena = lw.arena[:start+op.Size]
	v := lw.arena[start : start+op.Size : start+op.Size]
	workloads.FillValue(v, op.Seed)
	lw.kvs = append(lw.kvs, engine.KV{Key: op.Key, Value: v})
	lw.n += int64(len(op.Key) + op.Size)
}

// flush sends the batch in one PutBatch call, timed.
func (lw *loadWorker) flush() error {
	start := time.Now()
	if err := lw.batcher.PutBatch(lw.ctx, lw.kvs); err != nil {
		return fmt.Errorf("load a batch of %d records from %s: %w", len(lw.kvs), lw.kvs[0].Key, err)
	}
	record(lw.hist, time.Since(start))
	lw.loaded.Add(int64(len(lw.kvs)))
	lw.bytes.Add(lw.n)
	clear(lw.kvs) // drop the references to the arena and keys
	lw.kvs = lw.kvs[:0]
	return nil
}
