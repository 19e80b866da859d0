package shardstore

import (
	"fmt"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
)

// A store on a simulated device (device=hdd or device=ssd): OpenDir makes
// a disk.Sim of DeviceBytes in memory instead of opening a file, and runs
// the store on the Sim's virtual clock, which every IO advances by its
// modeled service time. The store's timers (the flush cadence, the IO
// scheduler's holds) then fire in virtual time too, so a run does the
// same IO whatever the machine's load, and harness bench measures it in
// virtual time (Store.SimDevice), labelling its figures simulated.
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

// SimDeviceBytesDefault is the size of a simulated device when the spec
// gives no size=: it is kept in memory.
const SimDeviceBytesDefault = 256 << 20

// simOptionDefs are the spec's options of a simulated device.
func simOptionDefs() []engine.OptionDef {
	h := disk.HDDModel{}
	h.EnsureDefaults(1)
	return []engine.OptionDef{
		{Name: "device", Kind: engine.KindEnum, Default: "file", Choices: []string{"file", "hdd", "ssd"},
			Doc: "file: a real device file; hdd or ssd: a simulated device in memory (size= default 256MiB) whose modeled service times drive a virtual clock"},
		{Name: "capacity", Kind: engine.KindSize, Default: "0",
			Doc: "simulated disk's capacity, for the seek curve (0: size=, the store spans the whole stroke)"},
		{Name: "rpm", Kind: engine.KindInt, Default: fmt.Sprint(int(h.RPM)), Doc: "simulated hard disk's spindle speed"},
		{Name: "seek-settle", Kind: engine.KindDuration, Default: h.SeekSettle.String(), Doc: "simulated hard disk's shortest seek"},
		{Name: "seek-full", Kind: engine.KindDuration, Default: h.SeekFull.String(), Doc: "simulated hard disk's full-stroke seek (square-root curve between)"},
		{Name: "bandwidth", Kind: engine.KindSize, Default: "0",
			Doc: "simulated device's media rate per second (0: hdd 160MB, ssd 2GB)"},
		{Name: "write-cache", Kind: engine.KindBool, Default: "false",
			Doc: "simulated hard disk's volatile write cache: writes cost the link transfer, the next flush the media"},
	}
}

// simFromSpec sets opts.Sim from a spec's device options.
func simFromSpec(o engine.Options, opts *Options) {
	if !o.Has("device") {
		return
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
	if !o.IsSet("size") {
		opts.DeviceBytes = SimDeviceBytesDefault
	}
}

// openSim is OpenDir on a simulated device.
func openSim(opts Options) (*Store, error) {
	dev, err := disk.NewSim(opts.DeviceBytes, CheckSectorBytes, *opts.Sim)
	if err != nil {
		return nil, fmt.Errorf("shardstore: device=%s: %w: %w", opts.Sim.Kind, err, engine.ErrInvalidArgument)
	}
	opts.Clock = dev.Clock()
	s, err := Open(dev, opts)
	if err != nil {
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
	m["sim_clock_seconds"] = float64(s.sim.Clock().Now().Sub(time.Unix(0, 0))) / 1e9
}
