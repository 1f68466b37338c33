// Package replay keeps the bytes of a stream that the other side has not
// acknowledged yet, so that they can be sent again after a cut: a
// resumable session's output at the gateway, and its stdin at the client.
package replay

// ChunkSize is the size of a Buffer's chunks.
const ChunkSize = 64 << 10

// Buffer holds the bytes of a stream from offset Base to Total, in chunks
// of ChunkSize: appends fill the last chunk, acknowledgements (Trim) drop
// whole chunks from the front. The zero value is empty, at offset 0.
//
// Why chunks: a flat slice trimmed at the front and appended at the back
// lost its capacity with every trim, so appends kept reallocating and
// copying up to the whole window. That was 43 % of serve's CPU for a
// resumable exec's output, and most of the client's for its stdin (1 GiB
// took 16 s). A written byte never moves and is never overwritten, so a
// sender may write a slice from At outside the owner's lock while appends
// and trims go on; a dropped chunk is left to the collector, not reused,
// for the same reason.
//
// A Buffer is not safe for concurrent use: its owner locks it.
type Buffer struct {
	base   int64
	kept   int
	chunks [][]byte // every chunk but the last is full
	skip   int      // bytes of chunks[0] before base (acknowledged)
}

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
		if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1]) == ChunkSize {
			b.chunks = append(b.chunks, make([]byte, 0, ChunkSize))
		}
		last := &b.chunks[len(b.chunks)-1]
		k := copy((*last)[len(*last):ChunkSize], p)
		*last = (*last)[:len(*last)+k]
		p = p[k:]
	}
	b.kept += n
	return n
}

// At returns kept bytes from stream offset off (Base <= off < Total), up
// to the end of their chunk.
func (b *Buffer) At(off int64) []byte {
	pos := int(off-b.base) + b.skip
	c := b.chunks[pos/ChunkSize]
	return c[pos%ChunkSize:]
}

// Trim drops the bytes before stream offset n (Base < n <= Total).
func (b *Buffer) Trim(n int64) {
	drop := int(n - b.base)
	b.base, b.kept, b.skip = n, b.kept-drop, b.skip+drop
	for len(b.chunks) > 0 && b.skip >= len(b.chunks[0]) {
		b.skip -= len(b.chunks[0])
		b.chunks[0] = nil
		b.chunks = b.chunks[1:]
	}
	if len(b.chunks) == 0 {
		b.chunks, b.skip = nil, 0
	}
}

// Chunks reports how many chunks the buffer holds (for tests).
func (b *Buffer) Chunks() int { return len(b.chunks) }
