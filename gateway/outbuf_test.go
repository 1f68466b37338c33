package gateway

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestOutBuf checks outBuf against a flat copy of the stream: appends of
// every size, trims to random offsets, and reads from each kept offset,
// across chunk boundaries; and that fully acknowledged chunks are let go.
func TestOutBuf(t *testing.T) {
	for _, tc := range []struct {
		name         string
		maxAppend    int
		trimEvery    int
		streamLength int
	}{
		{"small appends", 100, 3, 3 * outChunk},
		{"chunk-sized appends", outChunk, 2, 10 * outChunk},
		{"appends over chunks", 3*outChunk + 7, 1, 20 * outChunk},
		{"rare trims", 5000, 50, 8 * outChunk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.maxAppend)))
			stream := make([]byte, tc.streamLength)
			for i := range stream {
				stream[i] = byte(rng.Uint32())
			}
			var o outBuf
			written := 0
			for step := 0; written < len(stream); step++ {
				k := min(1+rng.IntN(tc.maxAppend), len(stream)-written)
				if n := o.append(stream[written : written+k]); n != k {
					t.Fatalf("append %d returned %d", k, n)
				}
				written += k
				if o.total() != int64(written) || o.kept != written-int(o.base) {
					t.Fatalf("total %d kept %d base %d after writing %d", o.total(), o.kept, o.base, written)
				}
				// Every kept offset reads the stream's bytes, up to a chunk.
				for off := o.base; off < o.total(); off += int64(1 + rng.IntN(outChunk/3)) {
					got := o.at(off)
					if len(got) == 0 || len(got) > outChunk || int(off)+len(got) > written {
						t.Fatalf("at(%d) is %d bytes (base %d, total %d)", off, len(got), o.base, o.total())
					}
					if !bytes.Equal(got, stream[off:int(off)+len(got)]) {
						t.Fatalf("at(%d): wrong bytes", off)
					}
				}
				if step%tc.trimEvery == 0 && o.total() > o.base {
					o.trim(o.base + 1 + rng.Int64N(o.total()-o.base))
				}
				if max := (o.kept+o.skip+outChunk-1)/outChunk + 1; len(o.chunks) > max {
					t.Fatalf("%d chunks for %d kept bytes (skip %d)", len(o.chunks), o.kept, o.skip)
				}
			}
			o.trim(o.total())
			if o.kept != 0 || len(o.chunks) != 0 {
				t.Fatalf("after acknowledging everything: kept %d, %d chunks", o.kept, len(o.chunks))
			}
		})
	}
}
