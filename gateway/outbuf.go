package gateway

// outChunk is the size of an output buffer's chunks.
const outChunk = 64 << 10

// outBuf is one output stream's bytes not yet acknowledged by the client,
// in chunks of outChunk bytes: appends fill the last chunk, acknowledgements
// drop whole chunks from the front.
//
// Why chunks: a flat slice trimmed at the front and appended at the back
// lost its capacity with every trim, so appends kept reallocating and
// copying up to the whole window; that was 43 % of serve's CPU for a
// resumable exec at full speed. A written byte never moves and is never
// overwritten, so a pump may write a slice from at outside the lock while
// appends and trims go on (a dropped chunk is left to the collector, not
// reused, for the same reason).
type outBuf struct {
	on     bool // the session has this stream
	done   bool // the stream ended upstream: total is final
	base   int64
	kept   int      // bytes kept, from base
	chunks [][]byte // every chunk but the last is full
	skip   int      // bytes of chunks[0] before base (acknowledged)
}

// total is the stream's offset after its last byte received.
func (o *outBuf) total() int64 { return o.base + int64(o.kept) }

// append keeps p and returns len(p).
func (o *outBuf) append(p []byte) int {
	n := len(p)
	for len(p) > 0 {
		if len(o.chunks) == 0 || len(o.chunks[len(o.chunks)-1]) == outChunk {
			o.chunks = append(o.chunks, make([]byte, 0, outChunk))
		}
		last := &o.chunks[len(o.chunks)-1]
		k := copy((*last)[len(*last):outChunk], p)
		*last = (*last)[:len(*last)+k]
		p = p[k:]
	}
	o.kept += n
	return n
}

// at returns kept bytes from stream offset off (base <= off < total), up
// to the end of their chunk.
func (o *outBuf) at(off int64) []byte {
	pos := int(off-o.base) + o.skip
	c := o.chunks[pos/outChunk]
	return c[pos%outChunk:]
}

// trim drops the bytes before stream offset n (base < n <= total).
func (o *outBuf) trim(n int64) {
	drop := int(n - o.base)
	o.base, o.kept, o.skip = n, o.kept-drop, o.skip+drop
	for len(o.chunks) > 0 && o.skip >= len(o.chunks[0]) && (len(o.chunks[0]) == outChunk || o.kept == 0) {
		o.skip -= len(o.chunks[0])
		o.chunks[0] = nil
		o.chunks = o.chunks[1:]
	}
	if len(o.chunks) == 0 {
		o.chunks, o.skip = nil, 0
	}
}
