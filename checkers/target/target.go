// Package target says how a checker opens, reopens and crashes the engine it
// checks, whatever the engine: one that opens on a directory (the peers, the
// model) or one that manages a raw disk.Device (shardstore, the checkers'
// test engine). Checkers drive engines only through the engine contract; a
// Target is what they need beyond it.
package target

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/workloads"
)

// Defaults of Target's fields.
const (
	DeviceBytesDefault = 4 << 20
	SectorBytesDefault = 512
)

// Target is an engine under check.
type Target struct {
	// Name is the engine's full spec, echoed into results and replay
	// commands.
	Name string
	// OpenDir opens the engine on a directory (created if absent). Nil if
	// the engine needs a device.
	OpenDir func(dir string) (engine.Engine, error)
	// OpenDevice opens the engine on dev. The engine must not close dev:
	// the checker reopens it, crashes it and closes it. Nil if the engine
	// opens only on a directory. When both are set, checkers prefer the
	// device.
	OpenDevice func(dev disk.Device) (engine.Engine, error)
	// DeviceBytes and SectorBytes size the disk.Mem made for each case
	// (defaults DeviceBytesDefault and SectorBytesDefault).
	DeviceBytes int64
	SectorBytes int
	// RoomBytes is engine.OnDevice.RoomBytes: while the engine holds
	// fewer bytes of keys and values, ErrNoSpace is a violation. 0: any
	// write may be refused for space.
	RoomBytes int64
	// Abandon says a directory engine may be dropped without Close and
	// reopened on the same directory in the same process, which then acts
	// as a process crash: true for engines that hold no lock and no
	// goroutine (the model). Default false: crash checks on a directory
	// engine kill a child process instead.
	Abandon bool
	// WorkDir is where a directory engine's case directories are made
	// (default "": os.TempDir()). A tmpfs makes fsync-heavy engines fast.
	WorkDir string
	// Layout sets the value sizes the biased generator clusters around
	// (page, chunk and extent boundaries ±1) and their maximum; zero fields
	// take small defaults (see BiasedOptions).
	Layout Layout
	// Observer, set by Observed, hears the states every engine the target
	// opens reaches; if it is a FaultObserver it also hears the faults and
	// power cuts of the devices the target makes.
	Observer engine.Observer
	// WithObserver, if set, returns the target with obs in the engine's
	// options (engine.Options.WithObserver): For, FromDriver and
	// shardtarget set it. Nil: the engine cannot be observed.
	WithObserver func(obs engine.Observer) (Target, error)
	// Variants are the engine's Driver.Variants this target may take for
	// a case (those setting an option the user's spec set left out), and
	// Variant makes the target of one of them, observed as this one is.
	// Nil: the engine has none.
	Variants [][]engine.Setting
	Variant  func(settings []engine.Setting) (Target, error)
}

// VariantString writes a variant as a spec's options: "sched=fifo,queue=64KiB".
func VariantString(settings []engine.Setting) string {
	return strings.TrimPrefix(engine.Spec{Name: "x", Options: settings}.String(), "x:")
}

// ParseVariant reads what VariantString wrote.
func ParseVariant(s string) ([]engine.Setting, error) {
	spec, err := engine.ParseSpec("x:" + s)
	if err != nil {
		return nil, fmt.Errorf("engine variant %q: want key=value,... as in an engine spec", s)
	}
	return spec.Options, nil
}

// FaultObserver hears the faults a target's devices inject: an IO error
// or a bit flip of a disk.Faulty, and the power cut of a disk.Mem armed
// with StopAfter (coverage.Recorder implements it).
type FaultObserver interface {
	DeviceFault(io disk.IO, flip bool)
	PowerCut()
}

// LatencyObserver hears a latency fault: an IO a device delayed in real
// time (Instance.Slow; coverage.Recorder implements it).
type LatencyObserver interface {
	Latency()
}

// Observed returns t with obs installed: in the engine's options, so every
// open reports to it, and on the devices Start makes. ok is false if t
// has no WithObserver (then t is returned as it is).
func (t Target) Observed(obs engine.Observer) (_ Target, ok bool, err error) {
	if t.WithObserver == nil {
		return t, false, nil
	}
	nt, err := t.WithObserver(obs)
	if err != nil {
		return t, false, err
	}
	nt.Observer = obs
	return nt, true, nil
}

// Layout is the part of workloads.BiasedOptions a target decides.
type Layout struct {
	PageBytes, ChunkBytes, ExtentBytes, ValueBytesMax int
}

// Layout defaults: small, so values cross the boundaries of a test-sized
// engine and a case stays cheap.
const (
	PageBytesDefault   = 512
	ChunkBytesDefault  = 1024
	ExtentBytesDefault = 4096
)

// For makes the target of an engine table entry with options o: on a
// device if the driver says the engine runs on one (Driver.Device), with
// the sizes and defaults it gives for a check; else on a directory.
func For(d engine.Driver, o engine.Options) (Target, error) {
	if d.Device == nil {
		return FromDriver(d, o), nil
	}
	od, err := d.Device(o)
	if err != nil {
		return Target{}, err
	}
	t := FromDevice(od)
	t.WithObserver = func(obs engine.Observer) (Target, error) { return For(d, o.WithObserver(obs)) }
	for _, v := range d.Variants {
		if !slices.ContainsFunc(v, func(s engine.Setting) bool { return o.IsSet(s.Key) }) && variantFits(d, o, v) {
			t.Variants = append(t.Variants, v)
		}
	}
	if len(t.Variants) > 0 {
		t.Variant = func(settings []engine.Setting) (Target, error) {
			vo, err := o.With(settings...)
			if err == nil && d.Check != nil {
				err = d.Check(vo)
			}
			if err != nil {
				return Target{}, fmt.Errorf("engine variant %s of %s: %w", VariantString(settings), t.Name, err)
			}
			vt, err := For(d, vo)
			if err != nil {
				return Target{}, fmt.Errorf("engine variant %s of %s: %w", VariantString(settings), t.Name, err)
			}
			vt.Observer = o.Observer()
			return vt, nil
		}
	}
	return t, nil
}

// variantFits reports whether variant v laid over o still makes an
// engine: a device of 512 KiB is eight of the check's 64 KiB extents, and
// no device at all of a spec's 256 KiB ones. One that does not fit is left
// out, as one the spec overrides is: the user's configuration stands.
func variantFits(d engine.Driver, o engine.Options, v []engine.Setting) bool {
	vo, err := o.With(v...)
	if err == nil && d.Check != nil {
		err = d.Check(vo)
	}
	if err == nil {
		_, err = d.Device(vo)
	}
	return err == nil
}

// FromDriver makes a directory target from an engine table entry, even
// for an engine that could run on a device (a kill-mode crash check opens
// it through Driver.Open, on a device file in each case's directory).
func FromDriver(d engine.Driver, o engine.Options) Target {
	return Target{
		Name:         o.Spec().String(),
		OpenDir:      func(dir string) (engine.Engine, error) { return d.Open(dir, o) },
		WithObserver: func(obs engine.Observer) (Target, error) { return FromDriver(d, o.WithObserver(obs)), nil },
	}
}

// FromDevice makes a device target of an engine that runs on a device.
func FromDevice(d engine.OnDevice) Target {
	return Target{
		Name:        d.Spec.String(),
		OpenDevice:  d.Open,
		DeviceBytes: d.DeviceBytes,
		SectorBytes: d.SectorBytes,
		RoomBytes:   d.RoomBytes,
		Layout: Layout{
			PageBytes:     d.PageBytes,
			ChunkBytes:    d.ChunkBytes,
			ExtentBytes:   d.ExtentBytes,
			ValueBytesMax: d.ValueBytesMax,
		},
	}
}

// HasDevice reports whether the engine opens on a device.
func (t Target) HasDevice() bool { return t.OpenDevice != nil }

// Validate reports a target that cannot be opened.
func (t Target) Validate() error {
	var errs []error
	if t.Name == "" {
		errs = append(errs, errors.New("target: no name"))
	}
	if t.OpenDir == nil && t.OpenDevice == nil {
		errs = append(errs, fmt.Errorf("target %s: neither OpenDir nor OpenDevice is set", t.Name))
	}
	if t.DeviceBytes < 0 || t.SectorBytes < 0 {
		errs = append(errs, fmt.Errorf("target %s: negative device size", t.Name))
	}
	return errors.Join(errs...)
}

func (t Target) deviceBytes() int64 {
	if t.DeviceBytes == 0 {
		return DeviceBytesDefault
	}
	return t.DeviceBytes
}

func (t Target) sectorBytes() int {
	if t.SectorBytes == 0 {
		return SectorBytesDefault
	}
	return t.SectorBytes
}

// Biased returns generator options for the target: opts with the target's
// layout filled into its zero fields.
func (t Target) Biased(opts workloads.BiasedOptions) workloads.BiasedOptions {
	l := t.Layout
	pick := func(v, def int) int {
		if v != 0 {
			return v
		}
		return def
	}
	opts.PageBytes = pick(opts.PageBytes, pick(l.PageBytes, PageBytesDefault))
	opts.ChunkBytes = pick(opts.ChunkBytes, pick(l.ChunkBytes, ChunkBytesDefault))
	opts.ExtentBytes = pick(opts.ExtentBytes, pick(l.ExtentBytes, ExtentBytesDefault))
	opts.ValueBytesMax = pick(opts.ValueBytesMax, pick(l.ValueBytesMax, opts.ExtentBytes+1))
	return opts
}

// Instance is one opened engine of a target, with what it runs on: a
// directory, or a disk.Mem behind an optional disk.Faulty.
type Instance struct {
	t   Target
	dir string
	mem *disk.Mem
	// Faulty wraps the Mem when the instance was started with faults;
	// nil otherwise.
	Faulty *disk.Faulty
	// slow is the latency fault Slow arms on Faulty.
	slow *slowIO
	// Engine is the open engine; nil between a failed open and the next.
	Engine engine.Engine
}

// ErrHang marks an engine call that did not return within its bound,
// ignoring every context: the engine hangs (checkers.ErrEngineHang).
var ErrHang = errors.New("the engine hangs")

// StartWithin is Start bounded by d: an open that has not returned by then
// is left running (its goroutine leaks: nothing can stop it; the Instance
// it may yet return is never closed) and reported as an error wrapping
// ErrHang. Opening a new engine is no op of a check, so no op timeout or
// watchdog covers it otherwise.
func (t Target) StartWithin(dir string, faults bool, d time.Duration) (*Instance, error) {
	return within(d, func() (*Instance, error) { return t.Start(dir, faults) })
}

// NewMem returns a blank in-memory device of the target's size, not
// observed (a check of its own uses it, outside any case).
func (t Target) NewMem() *disk.Mem { return disk.NewMem(t.deviceBytes(), t.sectorBytes()) }

// OpenDeviceWithin is OpenDevice bounded as StartWithin is: an open still
// running after d is left running and reported as ErrHang.
func (t Target) OpenDeviceWithin(dev disk.Device, d time.Duration) (engine.Engine, error) {
	return within(d, func() (engine.Engine, error) { return t.OpenDevice(dev) })
}

// within returns what fn returns, or, if fn has not returned after d, an
// error wrapping ErrHang (fn's goroutine is left running: nothing can
// stop it, and what it may yet return is dropped).
func within[T any](d time.Duration, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-timer.C:
		var zero T
		return zero, fmt.Errorf("not returned within %s: %w", d, ErrHang)
	}
}

// Start opens a fresh engine: on a new disk.Mem if the target has a
// device, else in dir. faults wraps the Mem in a disk.Faulty (an error for
// a directory target).
func (t Target) Start(dir string, faults bool) (*Instance, error) {
	in := &Instance{t: t, dir: dir, slow: &slowIO{}}
	if t.OpenDevice != nil {
		in.mem = disk.NewMem(t.deviceBytes(), t.sectorBytes())
		t.observeMem(in.mem)
		if faults {
			f, err := disk.NewFaulty(in.mem, t.faultyOptions(in.slow))
			if err != nil {
				return nil, err
			}
			in.Faulty = f
		}
	} else if faults {
		return nil, fmt.Errorf("engine %s opens on a directory: fault injection needs an engine on a disk.Device", t.Name)
	}
	return in, in.Open()
}

// Device returns the device the engine runs on (nil for a directory
// target).
func (in *Instance) Device() disk.Device {
	switch {
	case in.Faulty != nil:
		return in.Faulty
	case in.mem != nil:
		return in.mem
	}
	return nil
}

// Mem returns the in-memory device (nil for a directory target).
func (in *Instance) Mem() *disk.Mem { return in.mem }

// Open opens the engine on the instance's device or directory.
func (in *Instance) Open() error {
	var e engine.Engine
	var err error
	if dev := in.Device(); dev != nil {
		e, err = in.t.OpenDevice(dev)
	} else {
		if err := os.MkdirAll(in.dir, 0o755); err != nil {
			return err
		}
		e, err = in.t.OpenDir(in.dir)
	}
	if err != nil {
		return err
	}
	in.Engine = e
	return nil
}

// Close closes the engine (a clean shutdown) and forgets it.
func (in *Instance) Close() error {
	if in.Engine == nil {
		return nil
	}
	err := in.Engine.Close()
	in.Engine = nil
	return err
}

// Abandon forgets the engine without closing it: a process crash for a
// directory engine the target says may be abandoned.
func (in *Instance) Abandon() { in.Engine = nil }

// UseMem replaces the device with mem (a crash state of the old one),
// keeping the fault wrapper, if any, with its faults cleared. The engine
// must already be closed or abandoned.
func (in *Instance) UseMem(mem *disk.Mem) error {
	in.mem = mem
	in.t.observeMem(mem)
	if in.Faulty != nil {
		f, err := disk.NewFaulty(mem, in.t.faultyOptions(in.slow))
		if err != nil {
			return err
		}
		in.Faulty = f
	}
	return nil
}

// faultyOptions are the options of the disk.Faulty Start makes: its
// faults reported to a FaultObserver, its IOs delayed while slow is armed.
func (t Target) faultyOptions(slow *slowIO) disk.FaultyOptions {
	// A modeled time of 1ns per IO makes Faulty call Sleep on every IO;
	// only Faulty's virtual clock sees it.
	o := disk.FaultyOptions{Delay: time.Nanosecond, Sleep: slow.sleep}
	if fo, ok := t.Observer.(FaultObserver); ok {
		o.OnFault = fo.DeviceFault
	}
	slow.obs, _ = t.Observer.(LatencyObserver)
	return o
}

// slowIO is a latency fault: the next n IOs each take d longer.
type slowIO struct {
	n   atomic.Int64
	d   atomic.Int64 // nanoseconds
	obs LatencyObserver
}

func (s *slowIO) sleep(time.Duration) {
	if s.n.Load() <= 0 || s.n.Add(-1) < 0 {
		return
	}
	if s.obs != nil {
		s.obs.Latency()
	}
	time.Sleep(time.Duration(s.d.Load()))
}

// Slow arms a latency fault on the instance's Faulty: each of the next n
// reads, writes and flushes, whichever goroutine issues it, is delayed by
// d in real time before it is issued. It changes how the engine's
// foreground and background work interleave, never what an IO returns. A
// no-op without faults.
func (in *Instance) Slow(n int, d time.Duration) {
	in.slow.d.Store(int64(d))
	in.slow.n.Store(int64(n))
}

// observeMem reports mem's power cut to a FaultObserver.
func (t Target) observeMem(mem *disk.Mem) {
	if fo, ok := t.Observer.(FaultObserver); ok {
		mem.OnPowerCut(fo.PowerCut)
	}
}

// CanCrash reports whether an instance of t can be dirty-rebooted in
// process: it has a device, or it may be abandoned.
func (t Target) CanCrash() bool { return t.OpenDevice != nil || t.Abandon }
