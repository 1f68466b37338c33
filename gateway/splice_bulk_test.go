package gateway

import (
	"bytes"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// queuedReader returns its chunks one per Read, cut to the caller's buffer:
// a socket whose reads return what happened to be queued.
type queuedReader struct{ chunks [][]byte }

func (r *queuedReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// writeRecorder is a net.Conn that records each Write.
type writeRecorder struct {
	net.Conn
	sizes []int
	data  bytes.Buffer
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.data.Write(p)
}

// TestHalfCopyBulkReads: a copier reads 32 KiB at a time until a read
// fills its buffer, then up to 256 KiB while reads return at least 32 KiB,
// and back to 32 KiB after a short read; each write is one read's bytes.
func TestHalfCopyBulkReads(t *testing.T) {
	fill := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	chunks := [][]byte{
		fill(5, 'a'),           // interactive
		fill(600<<10, 'b'),     // bulk queued: 32 KiB, then 256 KiB reads
		fill(40<<10, 'c'),      // still >= 32 KiB: bulk buffer
		fill(7, 'd'),           // short: back to 32 KiB
		fill(spliceBuf+1, 'e'), // 32 KiB, then 1 byte from a bulk buffer
	}
	want := []int{5, 32 << 10, 256 << 10, 256 << 10, 600<<10 - 32<<10 - 512<<10, 40 << 10, 7, 32 << 10, 1}
	var all []byte
	for _, c := range chunks {
		all = append(all, c...)
	}
	dst := &writeRecorder{}
	errc := make(chan error, 1)
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	smallGets, bulkGets := splicePool.Gets(), spliceBulkPool.Gets()
	h := &halfCopy{dst: dst, src: &queuedReader{chunks: chunks}, n: &n, errc: errc, wg: &wg}
	h.run()
	wg.Wait()
	if err := <-errc; err != nil {
		t.Fatalf("copy: %v", err)
	}
	if !slices.Equal(dst.sizes, want) {
		t.Errorf("writes %v, want %v", dst.sizes, want)
	}
	if !bytes.Equal(dst.data.Bytes(), all) || n.Load() != int64(len(all)) {
		t.Errorf("copied %d bytes (counted %d), want the %d read", dst.data.Len(), n.Load(), len(all))
	}
	// Reads 1, 2, 8 and the final one (EOF) took 32 KiB buffers; the
	// 7-byte read still had a bulk one, taken after a 40 KiB read.
	if got := splicePool.Gets() - smallGets; got != 4 {
		t.Errorf("%d small buffers taken, want 4", got)
	}
	if got := spliceBulkPool.Gets() - bulkGets; got != 6 {
		t.Errorf("%d bulk buffers taken, want 6", got)
	}
	if splicePool.InUse()+spliceBulkPool.InUse() != 0 {
		t.Error("buffers still lent out")
	}
}
