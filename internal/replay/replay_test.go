package replay

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestBuffer checks Buffer against a flat copy of the stream: appends of
// every size, trims to random offsets, and reads from each kept offset,
// across chunk boundaries; and that fully acknowledged chunks are let go.
func TestBuffer(t *testing.T) {
	for _, tc := range []struct {
		name         string
		maxAppend    int
		trimEvery    int
		streamLength int
	}{
		{"small appends", 100, 3, 3 * ChunkSize},
		{"chunk-sized appends", ChunkSize, 2, 10 * ChunkSize},
		{"appends over chunks", 3*ChunkSize + 7, 1, 20 * ChunkSize},
		{"rare trims", 5000, 50, 8 * ChunkSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.maxAppend)))
			stream := make([]byte, tc.streamLength)
			for i := range stream {
				stream[i] = byte(rng.Uint32())
			}
			var o Buffer
			written := 0
			for step := 0; written < len(stream); step++ {
				k := min(1+rng.IntN(tc.maxAppend), len(stream)-written)
				if n := o.Append(stream[written : written+k]); n != k {
					t.Fatalf("append %d returned %d", k, n)
				}
				written += k
				if o.Total() != int64(written) || o.Len() != written-int(o.Base()) {
					t.Fatalf("total %d kept %d base %d after writing %d", o.Total(), o.Len(), o.Base(), written)
				}
				// Every kept offset reads the stream's bytes, up to a chunk.
				for off := o.Base(); off < o.Total(); off += int64(1 + rng.IntN(ChunkSize/3)) {
					got := o.At(off)
					if len(got) == 0 || len(got) > ChunkSize || int(off)+len(got) > written {
						t.Fatalf("at(%d) is %d bytes (base %d, total %d)", off, len(got), o.Base(), o.Total())
					}
					if !bytes.Equal(got, stream[off:int(off)+len(got)]) {
						t.Fatalf("at(%d): wrong bytes", off)
					}
				}
				if step%tc.trimEvery == 0 && o.Total() > o.Base() {
					o.Trim(o.Base() + 1 + rng.Int64N(o.Total()-o.Base()))
				}
				if max := (o.Len()+o.skip+ChunkSize-1)/ChunkSize + 1; o.Chunks() > max {
					t.Fatalf("%d chunks for %d kept bytes (skip %d)", o.Chunks(), o.Len(), o.skip)
				}
			}
			o.Trim(o.Total())
			if o.Len() != 0 || o.Chunks() != 0 {
				t.Fatalf("after acknowledging everything: kept %d, %d chunks", o.Len(), o.Chunks())
			}
		})
	}
}
