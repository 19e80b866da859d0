package bench

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gauntlet-kv/gauntlet/internal/provenance"
)

// Env describes the machine and build a report was measured on.
type Env struct {
	Hostname   string `json:"hostname"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Kernel     string `json:"kernel"`
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	MemBytes   int64  `json:"mem_bytes"`
	GoVersion  string `json:"go_version"`
	Commit     string `json:"commit"`
	Modified   bool   `json:"modified"`
	Dir        string `json:"dir"`
	FileSystem string `json:"file_system"` // type of the file system holding Dir
	Device     string `json:"device"`      // what that file system is mounted from
	DeviceInfo string `json:"device_info"` // model and rotational flag from sysfs, if found
	// Deps holds the versions of the engine libraries linked in.
	Deps map[string]string `json:"deps"`
}

// ReadEnv describes this machine, the running binary, and dir.
func ReadEnv(dir string) Env {
	e := Env{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Deps: map[string]string{}}
	e.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		e.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	e.CPU = cpuModel()
	e.MemBytes = memTotal()
	b := provenance.Read()
	e.Commit, e.Modified = b.Commit, b.Modified
	for path, v := range b.Deps {
		if strings.Contains(path, "pebble") || strings.Contains(path, "badger") || strings.Contains(path, "bbolt") {
			e.Deps[path] = v
		}
	}
	if abs, err := filepath.Abs(dir); err == nil {
		e.Dir = abs
		e.FileSystem, e.Device = mountOf(abs)
		e.DeviceInfo = deviceInfo(e.Device)
	}
	return e
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// mountOf finds the mount holding path in /proc/self/mountinfo: the longest
// mount point that is a prefix of path.
func mountOf(path string) (fsType, source string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", ""
	}
	best := -1
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 2 {
			continue
		}
		mp := f[4]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, fsType, source = len(mp), g[0], g[1]
		}
	}
	return fsType, source
}

// deviceInfo reads the model and rotational flag of a /dev/X block device.
func deviceInfo(dev string) string {
	name := filepath.Base(dev)
	if !strings.HasPrefix(dev, "/dev/") {
		return ""
	}
	sys := filepath.Join("/sys/class/block", name)
	if _, err := os.Stat(sys); err != nil {
		return ""
	}
	// A partition's queue attributes live on its parent disk.
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		if p, err := filepath.EvalSymlinks(sys); err == nil {
			sys = filepath.Dir(p)
		}
	}
	read := func(rel string) string {
		b, _ := os.ReadFile(filepath.Join(sys, rel))
		return strings.TrimSpace(string(b))
	}
	var parts []string
	if m := read("device/model"); m != "" {
		parts = append(parts, m)
	}
	switch read("queue/rotational") {
	case "1":
		parts = append(parts, "rotational")
	case "0":
		parts = append(parts, "non-rotational")
	}
	if s := read("size"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			parts = append(parts, strconv.FormatInt(n*512>>30, 10)+"GiB")
		}
	}
	return strings.Join(parts, ", ")
}
