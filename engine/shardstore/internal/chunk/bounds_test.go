package chunk

import (
	"context"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/dep"
	"github.com/gauntlet-kv/gauntlet/engine/shardstore/internal/format"
)

// A frame of exactly half an extent is the largest allowed; one byte more
// is refused.
func TestOptionsPayloadBound(t *testing.T) {
	for _, eb := range []int64{4096, 64 << 10} {
		o := testOptions()
		o.ExtentBytes = eb
		o.ChunkPayloadMax = int(eb/2) - format.FrameOverhead
		o.EnsureDefaults()
		if err := o.Validate(); err != nil {
			t.Errorf("extent %d, frame of half of it: Validate() = %v", eb, err)
		}
		o.ChunkPayloadMax++
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "half an extent") {
			t.Errorf("extent %d, frame one byte over half of it: Validate() = %v", eb, err)
		}
	}
}

// A stream number out of range is a programming error, refused before
// anything else is looked at (the payload's size included).
func TestAppendStreamOutOfRange(t *testing.T) {
	s, _ := newStore(t, testOptions())
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "chunk: stream") {
			t.Fatalf("Append to stream %d: recovered %v, want the stream panic", streamCount, r)
		}
	}()
	_, _, _, _ = s.Append(context.Background(), streamCount, make([]byte, s.opts.ChunkPayloadMax+1), dep.Dependency{})
}
