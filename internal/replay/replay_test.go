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

// TestLoans: a lent slice keeps its bytes through trims and appends until
// it is returned, whatever else is lent and returned meanwhile; chunks
// nobody holds any more are reused, so a stream far longer than the window
// runs on a bounded set of chunks.
func TestLoans(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const streamLength = 200 * ChunkSize
	stream := make([]byte, streamLength)
	for i := range stream {
		stream[i] = byte(rng.Uint32())
	}
	type lent struct {
		p    []byte
		want []byte
		l    Loan
	}
	var o Buffer
	var loans []lent
	made0 := made.Load()
	for written := 0; written < streamLength; {
		k := min(1+rng.IntN(3*ChunkSize), streamLength-written)
		o.Append(stream[written : written+k])
		written += k
		for range rng.IntN(3) {
			off := o.Base() + rng.Int64N(o.Total()-o.Base())
			p, l := o.Lend(off)
			loans = append(loans, lent{p, stream[off : int(off)+len(p)], l})
		}
		if o.Total() > o.Base() && rng.IntN(2) == 0 {
			o.Trim(o.Base() + 1 + rng.Int64N(o.Total()-o.Base()))
		}
		for len(loans) > 0 && rng.IntN(3) > 0 {
			i := rng.IntN(len(loans))
			if !bytes.Equal(loans[i].p, loans[i].want) {
				t.Fatalf("a lent slice changed before it was returned")
			}
			o.Return(loans[i].l)
			loans = append(loans[:i], loans[i+1:]...)
		}
	}
	for _, l := range loans {
		if !bytes.Equal(l.p, l.want) {
			t.Fatalf("a lent slice changed before it was returned")
		}
	}
	// 200 chunks of stream, a window of a few chunks, a few loans: reuse
	// keeps the chunks ever made far below the stream's (a collection may
	// empty the pool, and the race detector drops some of what it gets).
	if n := made.Load() - made0; n > 100 {
		t.Errorf("%d chunks made for a stream of %d chunks", n, streamLength/ChunkSize)
	}
}

// TestReuse: a chunk still lent is not reused until it is returned;
// trimmed and returned, it goes back to the pool.
func TestReuse(t *testing.T) {
	var o Buffer
	o.Append(bytes.Repeat([]byte{1}, ChunkSize))
	first := o.chunks[0]
	p, l := o.Lend(0)
	o.Trim(ChunkSize)
	for range 8 {
		o.Append(bytes.Repeat([]byte{2}, ChunkSize))
		for _, c := range o.chunks {
			if c == first {
				t.Fatal("a lent chunk was reused")
			}
		}
	}
	if !bytes.Equal(p, bytes.Repeat([]byte{1}, ChunkSize)) {
		t.Fatal("the lent bytes changed")
	}
	if !first.dropped || first.lent != 1 {
		t.Fatalf("trimmed while lent: dropped %v, lent %d", first.dropped, first.lent)
	}
	o.Return(l)
	if first.dropped || first.lent != 0 || len(first.b) != 0 {
		t.Fatalf("returned: dropped %v, lent %d, %d bytes", first.dropped, first.lent, len(first.b))
	}
}
