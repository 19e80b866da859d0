package shardstore

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/conc"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/iotrace"
)

// A store on a simulated device (device=hdd or device=ssd): OpenDir makes
// a disk.Sim of DeviceBytes in memory (its pages allocated as they are
// written: the default 4 GiB costs what the run writes) instead of
// opening a file, and runs
// the store on the Sim's virtual clock, which every IO advances by its
// modeled service time. The store's timers (the flush cadence, the IO
// scheduler's holds) then fire in virtual time too, and harness bench
// measures it in virtual time (Store.SimDevice), labelling its figures
// simulated. Opened inside a controlled execution of engine/conc, as
// harness bench opens it, the run is deterministic (disk.Sim); elsewhere
// its IOs are timed by the model but goroutine timing still decides
// which writes share a round.
//
// The device lives in the process: a store reopened on device=hdd starts
// blank. The bench runs each engine once per run, which is all it needs.
//
// The hard disk's defaults are a 7,200 rpm 3.5" nearline SATA drive, from
// the published datasheets of such drives (Seagate Exos 7E/X, WD Ultrastar
// DC HC5xx, Toshiba MG): 8.33 ms per rotation (4.17 ms average rotational
// latency), an average seek of 8-9 ms (here 1 ms settle to 16 ms full
// stroke on a square-root curve, which averages about 9 ms over random
// distances), a sustained media rate of 160 MB/s (the datasheets give
// 200-270 MB/s on the outer tracks and about half that on the inner
// ones), a SATA 6 Gb/s link (600 MB/s) and the write cache off, as
// storage nodes that flush for durability commonly run them.

// simOptionDefs are the spec's options of a simulated device.
func simOptionDefs() []engine.OptionDef {
	h := disk.HDDModel{}
	h.EnsureDefaults(1)
	return []engine.OptionDef{
		{Name: "device", Kind: engine.KindEnum, Default: "file", Choices: []string{"file", "hdd", "ssd"},
			Doc: "file: a real device file; hdd or ssd: a simulated device of size= bytes in memory (pages allocated as written) whose modeled service times drive a virtual clock"},
		{Name: "capacity", Kind: engine.KindSize, Default: "0",
			Doc: "simulated disk's capacity, for the seek curve (0: size=, the store spans the whole stroke)"},
		{Name: "rpm", Kind: engine.KindInt, Default: fmt.Sprint(int(h.RPM)), Doc: "simulated hard disk's spindle speed"},
		{Name: "seek-settle", Kind: engine.KindDuration, Default: h.SeekSettle.String(), Doc: "simulated hard disk's shortest seek"},
		{Name: "seek-full", Kind: engine.KindDuration, Default: h.SeekFull.String(), Doc: "simulated hard disk's full-stroke seek (square-root curve between)"},
		{Name: "bandwidth", Kind: engine.KindSize, Default: "0",
			Doc: "simulated device's media rate per second (0: hdd 160MB, ssd 2GB)"},
		{Name: "write-cache", Kind: engine.KindBool, Default: "false",
			Doc: "simulated hard disk's volatile write cache: writes cost the link transfer, the next flush the media"},
		{Name: "io-trace", Kind: engine.KindString, Default: "none",
			Doc: "record every device IO into this file (none: no trace; engine/iotrace format, rewritten at each open; a relative path is inside the engine's directory); on a real device it costs the scheduler its native asynchronous IO"},
	}
}

// simFromSpec sets opts.Sim and opts.IOTrace from a spec's device
// options.
func simFromSpec(o engine.Options, opts *Options) {
	if !o.Has("device") {
		return
	}
	if t := o.String("io-trace"); t != "none" {
		opts.IOTrace = t
	}
	kind := o.String("device")
	if kind == "file" {
		return
	}
	so := &disk.SimOptions{Kind: disk.SimKind(kind), Capacity: o.Size("capacity"),
		WriteCache: o.Bool("write-cache"), WriteCacheSet: true}
	so.HDD.RPM = float64(o.Int("rpm"))
	so.HDD.SeekSettle = o.Duration("seek-settle")
	so.HDD.SeekFull = o.Duration("seek-full")
	if bw := o.Size("bandwidth"); bw > 0 {
		so.HDD.Bandwidth, so.SSD.Bandwidth = float64(bw), float64(bw)
	}
	opts.Sim = so
}

// openSim is OpenDir on a simulated device.
func openSim(dir string, opts Options) (*Store, error) {
	dev, err := disk.NewSim(opts.DeviceBytes, CheckSectorBytes, *opts.Sim)
	if err != nil {
		return nil, fmt.Errorf("shardstore: device=%s: %w: %w", opts.Sim.Kind, err, engine.ErrInvalidArgument)
	}
	opts.Clock = dev.Clock()
	start := dev.Clock().Now()
	d, err := traced(dev, dir, opts, func() conc.Duration { return dev.Clock().Now().Sub(start) })
	if err != nil {
		return nil, err
	}
	s, err := Open(d, opts)
	if err != nil {
		d.Close()
		return nil, err
	}
	s.ownDev = true
	s.sim = dev
	return s, nil
}

// SimDevice returns the simulated device the store runs on, nil for a
// real one: harness bench reads its virtual clock.
func (s *Store) SimDevice() *disk.Sim { return s.sim }

// simMetrics adds the simulated device's totals to a Stats' metrics.
func (s *Store) simMetrics(m map[string]float64) {
	if s.sim == nil {
		return
	}
	st := s.sim.Stats()
	m["sim_busy_seconds"] = st.Busy.Seconds()
	m["sim_seek_bytes"] = float64(st.SeekBytes)
	m["sim_clock_seconds"] = s.sim.Clock().Now().Sub(conc.Unix(0, 0)).Seconds()
}

// traced wraps dev in an iotrace.Recorder writing opts.IOTrace (relative
// to dir), timed by now (nil: the wall clock); without opts.IOTrace it is
// dev.
func traced(dev disk.Device, dir string, opts Options, now iotrace.Now) (disk.Device, error) {
	if opts.IOTrace == "" {
		return dev, nil
	}
	path := opts.IOTrace
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("shardstore: io-trace=%s: %w", opts.IOTrace, err)
	}
	w, err := iotrace.NewWriter(f, iotrace.Header{Virtual: opts.Sim != nil})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("shardstore: io-trace=%s: %w", opts.IOTrace, err)
	}
	// The superblock's slots are in extent 0.
	return iotrace.NewRecorder(dev, w, iotrace.RecorderOptions{Now: now, SuperblockBytes: opts.ExtentBytes}), nil
}
