// Package replay keeps the bytes of a stream that the other side has not
// acknowledged yet, so that they can be sent again after a cut: a
// resumable session's output at the gateway, and its stdin at the client.
package replay

import (
	"sync"
	"sync/atomic"
)

// ChunkSize is the size of a Buffer's chunks.
const ChunkSize = 64 << 10

// chunks are shared by every Buffer: a dropped chunk goes back for the
// next append anywhere, and the collector empties the pool of what idle
// sessions no longer need. made counts the chunks allocated (for tests).
var (
	chunkPool = sync.Pool{New: func() any {
		made.Add(1)
		return &chunk{b: make([]byte, 0, ChunkSize)}
	}}
	made atomic.Int64
)

// Buffer holds the bytes of a stream from offset Base to Total, in chunks
// of ChunkSize: appends fill the last chunk, acknowledgements (Trim) drop
// whole chunks from the front. The zero value is empty, at offset 0.
//
// Why chunks: a flat slice trimmed at the front and appended at the back
// lost its capacity with every trim, so appends kept reallocating and
// copying up to the whole window. That was 43 % of serve's CPU for a
// resumable exec's output, and most of the client's for its stdin (1 GiB
// took 16 s). A written byte never moves and is never overwritten while
// it is kept, so a sender may write a slice from Lend outside the owner's
// lock while appends and trims go on. A dropped chunk is reused for later
// appends (fresh ones cost page faults: a quarter of the CPU of a
// resumable stdin), but only once every slice lent from it came back.
//
// A Buffer is not safe for concurrent use: its owner locks it.
type Buffer struct {
	base   int64
	kept   int
	chunks []*chunk // every chunk but the last is full
	skip   int      // bytes of chunks[0] before base (acknowledged)
}

// chunk is ChunkSize bytes of the stream and who holds a slice of it.
type chunk struct {
	b       []byte
	lent    int  // slices lent (Lend) and not returned
	dropped bool // trimmed while lent: recycled at the last Return
}

// Loan is a slice lent by Lend, to give back with Return.
type Loan struct{ c *chunk }

// Base is the offset of the first byte kept.
func (b *Buffer) Base() int64 { return b.base }

// Len is the number of bytes kept.
func (b *Buffer) Len() int { return b.kept }

// Total is the offset after the last byte appended.
func (b *Buffer) Total() int64 { return b.base + int64(b.kept) }

// Append keeps p and returns len(p).
func (b *Buffer) Append(p []byte) int {
	n := len(p)
	for len(p) > 0 {
		if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1].b) == ChunkSize {
			b.chunks = append(b.chunks, b.newChunk())
		}
		last := b.chunks[len(b.chunks)-1]
		k := copy(last.b[len(last.b):ChunkSize], p)
		last.b = last.b[:len(last.b)+k]
		p = p[k:]
	}
	b.kept += n
	return n
}

func (b *Buffer) newChunk() *chunk { return chunkPool.Get().(*chunk) }

// At returns kept bytes from stream offset off (Base <= off < Total), up
// to the end of their chunk, for use under the owner's lock only: Trim may
// recycle them once the lock is let go. Lend is At for use outside it.
func (b *Buffer) At(off int64) []byte {
	p, _ := b.at(off)
	return p
}

// Lend is At for a sender that writes the bytes outside the owner's lock:
// they stay untouched, even if trimmed meanwhile, until Return(l).
func (b *Buffer) Lend(off int64) (p []byte, l Loan) {
	p, c := b.at(off)
	c.lent++
	return p, Loan{c}
}

// Return gives back a slice of Lend: its chunk may be reused once trimmed
// and nobody else holds it.
func (b *Buffer) Return(l Loan) {
	c := l.c
	c.lent--
	if c.lent == 0 && c.dropped {
		c.dropped = false
		b.recycle(c)
	}
}

func (b *Buffer) at(off int64) ([]byte, *chunk) {
	pos := int(off-b.base) + b.skip
	c := b.chunks[pos/ChunkSize]
	return c.b[pos%ChunkSize:], c
}

// Trim drops the bytes before stream offset n (Base < n <= Total).
func (b *Buffer) Trim(n int64) {
	drop := int(n - b.base)
	b.base, b.kept, b.skip = n, b.kept-drop, b.skip+drop
	for len(b.chunks) > 0 && b.skip >= len(b.chunks[0].b) {
		c := b.chunks[0]
		b.skip -= len(c.b)
		b.chunks[0] = nil
		b.chunks = b.chunks[1:]
		if c.lent > 0 {
			c.dropped = true
		} else {
			b.recycle(c)
		}
	}
	if len(b.chunks) == 0 {
		b.chunks, b.skip = nil, 0
	}
}

// recycle gives c back to the pool: nobody holds it any more.
func (b *Buffer) recycle(c *chunk) {
	c.b = c.b[:0]
	chunkPool.Put(c)
}

// Chunks reports how many chunks the buffer holds (for tests).
func (b *Buffer) Chunks() int { return len(b.chunks) }
