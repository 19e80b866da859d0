package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gauntlet-kv/gauntlet/engine"
)

// SnapshotFile is the name of the file an on-disk Store keeps its persistent
// state in.
const SnapshotFile = "model.snapshot"

// snapshotMagic starts every snapshot file; the trailing digit is the format
// version.
var snapshotMagic = []byte("gmodel01")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Open opens a Store whose persistent state lives in dir, creating dir if it
// is absent. A snapshot that fails its checksum is reported as
// engine.ErrCorruption, never loaded.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("model: open %s: %w", dir, err)
	}
	s := New()
	s.dir = dir
	b, err := os.ReadFile(filepath.Join(dir, SnapshotFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, s.save() // fail now, not at the first Sync, if dir is unwritable
	}
	if err != nil {
		return nil, fmt.Errorf("model: open %s: %w", dir, err)
	}
	if err := s.load(b); err != nil {
		return nil, fmt.Errorf("model: open %s: %w", filepath.Join(dir, SnapshotFile), err)
	}
	return s, nil
}

func (s *Store) load(b []byte) error {
	if len(b) < len(snapshotMagic)+4 || !bytes.Equal(b[:len(snapshotMagic)], snapshotMagic) {
		return fmt.Errorf("not a model snapshot (bad magic or too short): %w", engine.ErrCorruption)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return fmt.Errorf("snapshot checksum mismatch: %w", engine.ErrCorruption)
	}
	r := body[len(snapshotMagic):]
	next := func() ([]byte, bool) {
		n, w := binary.Uvarint(r)
		if w <= 0 || n > uint64(len(r)-w) {
			return nil, false
		}
		v := r[w : w+int(n)]
		r = r[w+int(n):]
		return v, true
	}
	count, w := binary.Uvarint(r)
	if w <= 0 {
		return fmt.Errorf("snapshot header: %w", engine.ErrCorruption)
	}
	r = r[w:]
	for i := uint64(0); i < count; i++ {
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 {
			return fmt.Errorf("snapshot entry %d truncated: %w", i, engine.ErrCorruption)
		}
		s.keys[string(k)] = &history{durable: Version{Present: true, Value: bytes.Clone(v)}}
	}
	if len(r) != 0 {
		return fmt.Errorf("snapshot has %d trailing bytes: %w", len(r), engine.ErrCorruption)
	}
	return nil
}

// save writes the persistent state atomically: a temporary file, fsync,
// rename, fsync of the directory. Called with s.mu held.
func (s *Store) save() error {
	if s.dir == "" {
		return nil
	}
	keys := sortedKeys(s.keys)
	var buf bytes.Buffer
	buf.Write(snapshotMagic)
	n := 0
	for _, k := range keys {
		if s.keys[k].durable.Present {
			n++
		}
	}
	buf.Write(binary.AppendUvarint(nil, uint64(n)))
	for _, k := range keys {
		v := s.keys[k].durable
		if !v.Present {
			continue
		}
		buf.Write(binary.AppendUvarint(nil, uint64(len(k))))
		buf.WriteString(k)
		buf.Write(binary.AppendUvarint(nil, uint64(len(v.Value))))
		buf.Write(v.Value)
	}
	buf.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(buf.Bytes(), crcTable)))

	path := filepath.Join(s.dir, SnapshotFile)
	tmp := path + ".tmp"
	if err := writeSynced(tmp, buf.Bytes()); err != nil {
		return fmt.Errorf("model: save snapshot: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("model: save snapshot: %w", err)
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("model: save snapshot: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("model: save snapshot: sync %s: %w", s.dir, err)
	}
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func joinErrors(errs []error) error { return errors.Join(errs...) }

// Driver returns the model's entry for the harness's engine table.
func Driver() engine.Driver {
	return engine.Driver{
		Name: "model",
		Doc:  "the reference model: a map with persistence tracking, snapshot to a file on Sync (correct, not fast)",
		Open: func(dir string, _ engine.Options) (engine.Engine, error) { return Open(dir) },
	}
}
