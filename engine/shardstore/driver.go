package shardstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gauntlet-kv/gauntlet/engine"
	"github.com/gauntlet-kv/gauntlet/engine/disk"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/extent"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/iosched"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/superblock"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/mutant"
)

// OpenDir opens the store on the device file opts.DevicePath inside dir
// (created, opts.DeviceBytes long and prewritten with zeros, if absent:
// see Options.SkipPrewrite), or on the
// block device that path names. With opts.Direct the device is opened with
// O_DIRECT, falling back to buffered IO where the file system cannot do
// direct IO. Close closes the device.
func OpenDir(dir string, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Sim != nil {
		return openSim(dir, opts) // sim.go
	}
	f, _, err := openDeviceFile(dir, opts)
	if err != nil {
		return nil, err
	}
	dev, err := traced(f, dir, opts, nil) // sim.go: io-trace=
	if err != nil {
		f.Close()
		return nil, err
	}
	s, err := Open(dev, opts)
	if err != nil {
		dev.Close()
		return nil, err
	}
	s.ownDev = true
	return s, nil
}

// openDeviceFile opens (or creates) the device OpenDir would, and returns
// its path. opts has its defaults.
func openDeviceFile(dir string, opts Options) (*disk.File, string, error) {
	explicitBuffered := opts.DirectSet && !opts.Direct
	path := opts.DevicePath
	if !filepath.IsAbs(path) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", fmt.Errorf("shardstore: %w", err)
		}
		path = filepath.Join(dir, path)
	}
	fo := disk.FileOptions{Direct: !explicitBuffered, Create: true, Preallocate: opts.SkipPrewrite, Prewrite: !opts.SkipPrewrite}
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		fo.Size = 0 // an existing file keeps its size
	} else if err == nil {
		fo.Create, fo.Preallocate, fo.Prewrite = false, false, false // a block device, used whole
	} else {
		fo.Size = opts.DeviceBytes
	}
	f, err := disk.OpenFile(path, fo)
	if errors.Is(err, disk.ErrDirectUnsupported) {
		fo.Direct = false
		f, err = disk.OpenFile(path, fo)
	}
	switch {
	case err == nil:
		return f, path, nil
	case errors.Is(err, syscall.ENOSPC):
		// Name the spec's key, not disk.FileOptions' field.
		return nil, "", fmt.Errorf("shardstore: device file %s of %s: no space left on the file system: free space, or give a smaller size=: %w", path, engine.FormatSize(opts.DeviceBytes), engine.ErrNoSpace)
	case opts.SkipPrewrite && errors.Is(err, syscall.EOPNOTSUPP):
		return nil, "", fmt.Errorf("shardstore: device file %s: the file system cannot preallocate it: use prewrite=true: %w", path, engine.ErrInvalidArgument)
	}
	return nil, "", fmt.Errorf("shardstore: %w", err)
}

// FormatDir writes an empty store to the device OpenDir(dir, opts) would
// open, creating it if absent. Without force it formats only a blank
// device: one holding a valid store, or data without a valid superblock
// (a NotBlankError), is refused and left as it was. With force, every key
// on the device is lost.
func FormatDir(dir string, opts Options, force bool) error {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	f, path, err := openDeviceFile(dir, opts)
	if err != nil {
		return err
	}
	defer f.Close()
	if !force {
		if found, ok, err := superblock.Find(f); err != nil {
			return fmt.Errorf("shardstore: format %s: %w", path, err)
		} else if ok {
			return fmt.Errorf("shardstore: %s holds a store (%d extents of %s, superblock sequence %d): formatting erases every key on it; add --force to do so",
				path, found.Count(), engine.FormatSize(found.Image.ExtentBytes), found.Image.Sequence)
		}
		where, err := nonBlank(f, opts.ExtentBytes)
		if err != nil {
			return fmt.Errorf("shardstore: format %s: %w", path, err)
		}
		if where != "" {
			return &NotBlankError{Damaged: errors.New("no valid superblock slot"), Where: where}
		}
	}
	return formatDevice(f, opts)
}

// Driver describes shardstore for the harness's engine table.
func Driver() engine.Driver {
	d := DefaultOptions()
	return engine.Driver{
		Name: "shardstore",
		Doc:  "gauntlet's own engine: S3 ShardStore's design, an LSM index over chunks in extents with soft-updates crash consistency, on a raw device",
		Options: append([]engine.OptionDef{
			{Name: "path", Kind: engine.KindString, Default: d.DevicePath,
				Doc: "device file or block device; relative paths are inside the engine's directory"},
			{Name: "size", Kind: engine.KindSize, Default: engine.FormatSize(d.DeviceBytes),
				Doc: "size of a device file created by open (a block device is used whole)"},
			{Name: "direct", Kind: engine.KindBool, Default: "true",
				Doc: "O_DIRECT, bypassing the page cache (falls back to buffered where unsupported)"},
			{Name: "extent", Kind: engine.KindSize, Default: engine.FormatSize(d.ExtentBytes),
				Doc: "extent size: the unit of append and reclamation; default: a formatted device's own, else 4MiB, doubled while the device would have over 16384 extents"},
			{Name: "cache", Kind: engine.KindSize, Default: engine.FormatSize(d.CacheBytes),
				Doc: "buffer cache capacity (default: a quarter of the machine's or cgroup's memory; reads bypass the page cache)"},
			{Name: "value-cache", Kind: engine.KindSize, Default: engine.FormatSize(d.ValueCacheBytes),
				Doc: "copies of recently put values up to 4KiB kept in the memtable, so gets of recent keys read no chunk; 0 keeps none"},
			{Name: "row-cache", Kind: engine.KindSize, Default: engine.FormatSize(d.RowCacheBytes),
				Doc: "values up to 4KiB kept by key once read, so a get of a hot key is one lookup (default: an eighth of cache); 0 keeps none"},
			{Name: "memtable", Kind: engine.KindSize, Default: engine.FormatSize(int64(d.MemtableBytes)),
				Doc: "memtable size that forces an index flush even without Sync"},
			{Name: "flush-interval", Kind: engine.KindDuration, Default: d.FlushInterval.String(),
				Doc: "cadence at which unsynced writes are made durable"},
			{Name: "prewrite", Kind: engine.KindBool, Default: "true",
				Doc: "write zeros over a device file when creating it (costs its size at sequential bandwidth once; makes every later flush cheaper on ext4/xfs)"},
			{Name: "io-depth", Kind: engine.KindInt, Default: strconv.Itoa(d.IODepth),
				Doc: "device writes the IO scheduler keeps in flight at once"},
			{Name: "queue", Kind: engine.KindSize, Default: engine.FormatSize(iosched.QueueBytesMaxDefault),
				Doc: "bytes of writes the IO scheduler queues before a put waits (queue back-pressure)"},
			{Name: "mutant", Kind: engine.KindString, Default: "none",
				Doc: "a seeded bug to turn on (harness mutants list); needs a harness built with -tags mutants"},
			{Name: "sched", Kind: engine.KindEnum, Default: string(d.Scheduler), Choices: iosched.PolicyNames(),
				Doc: schedDoc()},
		}, simOptionDefs()...), // sim.go
		Check: func(o engine.Options) error {
			if n := o.Int("io-depth"); n < 1 {
				// (0 would mean the default in Options: say so instead.)
				return fmt.Errorf("shardstore: io-depth=%d: want at least 1 device write in flight (default %d): %w", n, iosched.IODepthDefault, engine.ErrInvalidArgument)
			}
			if e := o.Size("extent"); e < extent.ExtentBytesMin || e > extent.ExtentBytesMax || e%4096 != 0 {
				// Named as the spec names it; Options.Validate speaks of
				// the Go field.
				return fmt.Errorf("shardstore: extent=%s: want a multiple of 4KiB from %s to %s: %w",
					engine.FormatSize(e), engine.FormatSize(extent.ExtentBytesMin), engine.FormatSize(extent.ExtentBytesMax), engine.ErrInvalidArgument)
			}
			if m := o.String("mutant"); m != "" && m != "none" {
				if _, ok := mutant.Lookup(m); !ok {
					return fmt.Errorf("shardstore: mutant=%s: no such mutant (harness mutants list names them): %w", m, engine.ErrInvalidArgument)
				}
				if !mutant.Built() {
					return fmt.Errorf("shardstore: mutant=%s needs a harness built with -tags mutants (go run -tags mutants ./cmd/harness ...): %w", m, engine.ErrInvalidArgument)
				}
			}
			opts := OptionsFromSpec(o)
			opts.EnsureDefaults()
			return opts.Validate()
		},
		Capacity: func(o engine.Options) (int64, error) {
			opts := OptionsFromSpec(o)
			opts.EnsureDefaults()
			if err := checkDeviceSize(opts); err != nil {
				return 0, err
			}
			return capacity(opts), nil
		},
		Open: func(dir string, o engine.Options) (engine.Engine, error) {
			return OpenDir(dir, OptionsFromSpec(o))
		},
		Device: onDeviceFromSpec, // ondevice.go
		// What an adaptive check may vary per case: the two scheduling
		// policies the default never runs, a queue small enough for puts
		// to meet back-pressure (64 MiB never fills in a check's 1 MiB
		// device), and a cache smaller than a page, which holds none, so
		// every read goes to the device, and a device of eight extents
		// (at the check's 64 KiB), where reclamation evacuates with only
		// the reservation ladder's last steps free: on 1 MiB the client
		// reserve keeps the store off them. None changes an answer or the
		// on-device format.
		Variants: [][]engine.Setting{
			{{Key: "sched", Value: "fifo"}},
			{{Key: "sched", Value: "elevator"}},
			{{Key: "queue", Value: "64KiB"}},
			{{Key: "cache", Value: "1KiB"}},
			{{Key: "size", Value: "512KiB"}},
		},
		Simulated: func(o engine.Options) bool { // sim.go
			return o.Has("device") && o.String("device") != "file"
		},
	}
}

// OptionsFromSpec maps options resolved against Driver().Options onto
// Options.
func OptionsFromSpec(o engine.Options) Options {
	opts := Options{
		DevicePath:      o.String("path"),
		DeviceBytes:     o.Size("size"),
		Direct:          o.Bool("direct"),
		DirectSet:       true,
		CacheBytes:      o.Size("cache"),
		ValueCacheBytes: valueCacheFromSpec(o.Size("value-cache")),
		MemtableBytes:   int(o.Size("memtable")),
		FlushInterval:   o.Duration("flush-interval"),
		Scheduler:       iosched.Policy(o.String("sched")),
		IODepth:         int(o.Int("io-depth")),
		QueueBytesMax:   o.Size("queue"),
		SkipPrewrite:    !o.Bool("prewrite"),
		Mutant:          o.String("mutant"),
		Observer:        o.Observer(),
	}
	if o.IsSet("extent") {
		// Unset, it is the device's own if formatted, else the default
		// for its size (Options.ExtentBytes).
		opts.ExtentBytes = o.Size("extent")
	}
	if o.IsSet("row-cache") {
		// Unset, an eighth of the cache, as given or by default.
		opts.RowCacheBytes = valueCacheFromSpec(o.Size("row-cache"))
	}
	simFromSpec(o, &opts) // sim.go
	return opts
}

// valueCacheFromSpec maps the spec's value-cache size onto
// Options.ValueCacheBytes, where 0 means the default: value-cache=0 keeps
// none.
func valueCacheFromSpec(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// deviceExtentsMin is the fewest extents a device needs for puts to go
// on once the first extents fill: the superblock's, one open extent for
// each of the four streams (client data, evacuation, index runs,
// metadata), and the ReserveExtents that client data may not take. With
// one fewer, reclamation can free an extent only by taking the one it
// frees (8 extents of 16 MiB failed YCSB-A with ErrNoSpace after 30 MB
// of writes while 1 MB was live; 9 ran it for 8 s).
func deviceExtentsMin(o Options) int64 { return 5 + int64(o.ReserveExtents) }

// checkDeviceSize refuses a device file (size=) too small to hold any
// data, before anything is created: such a store opens, then fails its
// first put with ErrNoSpace. A device given by an absolute path that
// exists keeps its own size and is not checked here.
func checkDeviceSize(o Options) error {
	if filepath.IsAbs(o.DevicePath) {
		if _, err := os.Stat(o.DevicePath); err == nil {
			return nil
		}
	}
	n, min := o.DeviceBytes/o.ExtentBytes, deviceExtentsMin(o)
	if n >= min {
		return nil
	}
	return fmt.Errorf("shardstore: size=%s holds %d extents of %s; at least %d are needed (the superblock's, one for each of 4 streams, %d reserved for the index and reclamation): give size=%s or more, or a smaller extent=: %w",
		engine.FormatSize(o.DeviceBytes), n, engine.FormatSize(o.ExtentBytes), min, o.ReserveExtents, engine.FormatSize(min*o.ExtentBytes), engine.ErrInvalidArgument)
}

// capacity is about how many bytes of keys and values a fresh store on a
// device file of o.DeviceBytes holds: the extents client data may take,
// less frame and chunk headers (a generous 10%). The index's runs come
// out of the reserved extents' share until compaction frees them.
func capacity(o Options) int64 {
	n := o.DeviceBytes/o.ExtentBytes - deviceExtentsMin(o) + 1
	return max(n, 0) * o.ExtentBytes / 10 * 9
}

// schedDoc describes the sched= option from iosched's one list of policies.
func schedDoc() string {
	var docs []string
	for _, p := range iosched.Policies() {
		docs = append(docs, p.Doc())
	}
	return "IO scheduling policy: " + strings.Join(docs, ", ")
}
