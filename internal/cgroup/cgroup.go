// Package cgroup reads the memory limit a process runs under and makes
// memory cgroups for the processes it starts, on cgroup v2 or v1, so that
// a bench can give every run the same memory, page cache included: on a
// machine with more memory than a data set, an engine that reads through
// the page cache (Badger, bbolt, Pebble's files) would otherwise read from
// memory what an engine with its own bounded cache (shardstore) reads from
// the device.
package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Root is where the cgroup file systems are mounted.
var Root = "/sys/fs/cgroup"

// EnvJoin names the environment variable that asks a process started
// with NewMemory's Env to join that cgroup (Join) before it does anything
// else.
const EnvJoin = "GAUNTLET_CGROUP"

// Memory is a memory cgroup made by NewMemory.
type Memory struct {
	Dir     string // its directory
	Version int    // 1 or 2
	Limit   int64  // bytes
}

// ownPaths returns the process's cgroup path in the v2 hierarchy ("" if
// none) and in the v1 memory hierarchy ("" if none), from /proc/self/cgroup.
func ownPaths() (v2, v1 string) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2 = f[2]
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == "memory" {
				v1 = f[2]
			}
		}
	}
	return v2, v1
}

// v2Base returns the mount point of the v2 hierarchy, or "".
func v2Base() string {
	for _, d := range []string{Root, filepath.Join(Root, "unified")} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.controllers")); err == nil {
			return d
		}
	}
	return ""
}

// MemoryLimit returns the lowest memory limit set on the process's cgroup
// or any of its ancestors, in v2 (memory.max) and v1
// (memory.limit_in_bytes), or 0 if none is set or none can be read.
func MemoryLimit() int64 {
	v2, v1 := ownPaths()
	var limit int64
	lower := func(dir, file string) {
		for {
			if l := ParseLimit(readFile(filepath.Join(dir, file))); l > 0 && (limit == 0 || l < limit) {
				limit = l
			}
			up := filepath.Dir(dir)
			if up == dir || !strings.HasPrefix(up, Root) {
				return
			}
			dir = up
		}
	}
	if b := v2Base(); b != "" && v2 != "" {
		lower(filepath.Join(b, v2), "memory.max")
	}
	if v1 != "" {
		lower(filepath.Join(Root, "memory", v1), "memory.limit_in_bytes")
	}
	return limit
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}

// ParseLimit parses a cgroup memory limit ("max" in v2, a number near
// 2^63 in v1 when there is none), or returns 0 for no limit.
func ParseLimit(s string) int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v <= 0 || v >= 1<<62 {
		return 0
	}
	return v
}

// NewMemory makes a memory cgroup of limit bytes below the process's own
// (v1's memory hierarchy if mounted, else v2's), named name. The error
// says what to do where cgroups cannot be made.
func NewMemory(name string, limit int64) (*Memory, error) {
	v2, v1 := ownPaths()
	var m Memory
	var file string
	switch {
	case v1 != "" && isDir(filepath.Join(Root, "memory")):
		m = Memory{Dir: filepath.Join(Root, "memory", v1, name), Version: 1, Limit: limit}
		file = "memory.limit_in_bytes"
	case v2Base() != "":
		parent := filepath.Join(v2Base(), v2)
		if !strings.Contains(" "+readFile(filepath.Join(parent, "cgroup.subtree_control"))+" ", " memory") {
			if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
				return nil, fmt.Errorf("enable the memory controller below %s: %w (a cgroup v2 group with processes of its own cannot; run the harness in a delegated cgroup of its own)", parent, err)
			}
		}
		m = Memory{Dir: filepath.Join(parent, name), Version: 2, Limit: limit}
		file = "memory.max"
	default:
		return nil, errors.New("no memory cgroup hierarchy is mounted under " + Root)
	}
	if err := os.Mkdir(m.Dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("make cgroup %s: %w (it takes root, or a cgroup delegated to this user)", m.Dir, err)
	}
	if err := os.WriteFile(filepath.Join(m.Dir, file), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		os.Remove(m.Dir)
		return nil, fmt.Errorf("set %s of cgroup %s: %w", file, m.Dir, err)
	}
	return &m, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Env returns the environment entry that makes a process started with it
// join m (see Join).
func (m *Memory) Env() string { return EnvJoin + "=" + m.Dir }

// Remove removes the cgroup; it must hold no process. Its page cache
// charges move to its parent.
func (m *Memory) Remove() error { return os.Remove(m.Dir) }

// Join moves the calling process into the cgroup at dir.
func Join(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return fmt.Errorf("join cgroup %s: %w", dir, err)
	}
	return nil
}
