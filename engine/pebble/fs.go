package pebble

import (
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ioCounters count what Pebble asks of the file system: the source of the
// Stats device figures, exact rather than estimated from metrics.
type ioCounters struct {
	written atomic.Int64 // bytes written to any file
	read    atomic.Int64 // bytes read from any file
	syncs   atomic.Int64 // fsync, fdatasync and full SyncTo calls, directories included
}

// countingFS wraps a vfs.FS so every file it opens counts its IO.
type countingFS struct {
	vfs.FS
	c *ioCounters
}

func (fs countingFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return countingFile{File: f, c: fs.c}, nil
}

func (fs countingFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.Create(name, category))
}

func (fs countingFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.Open(name, opts...))
}

func (fs countingFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenReadWrite(name, category, opts...))
}

func (fs countingFS) OpenDir(name string) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenDir(name))
}

func (fs countingFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.ReuseForWrite(oldname, newname, category))
}

func (fs countingFS) Unwrap() vfs.FS { return fs.FS }

// countingFile counts the IO of one file.
type countingFile struct {
	vfs.File
	c *ioCounters
}

func (f countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.c.read.Add(int64(n))
	return n, err
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.c.read.Add(int64(n))
	return n, err
}

func (f countingFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.c.written.Add(int64(n))
	return n, err
}

func (f countingFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.c.written.Add(int64(n))
	return n, err
}

func (f countingFile) Sync() error {
	f.c.syncs.Add(1)
	return f.File.Sync()
}

func (f countingFile) SyncData() error {
	f.c.syncs.Add(1)
	return f.File.SyncData()
}

// SyncTo counts only when it did a full sync: a partial one is
// sync_file_range, which starts writeback but flushes no device cache.
func (f countingFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	if full {
		f.c.syncs.Add(1)
	}
	return full, err
}
