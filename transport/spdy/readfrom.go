package spdy

import (
	"io"

	"github.com/porthole/porthole/internal/pump"
)

// ReadFrom copies r to the stream until EOF (which it does not forward: call
// CloseWrite), one DATA frame per read of at most 32 KiB. io.Copy uses it.
//
// Buffers come from a pool. When r has a file descriptor (pipes, ptys, TCP
// connections; io.Copy's wrappers of *os.File and *net.TCPConn keep it),
// ReadFrom first waits for r to become readable and only then takes a
// buffer, so an idle session holds no buffer at all.
func (s *Stream) ReadFrom(r io.Reader) (int64, error) {
	ready := pump.NewWaiter(r)
	var total int64
	for {
		_ = ready.Wait() // errors surface from the Read below
		bp := s.c.bufs.Get().(*[]byte)
		n, rerr := r.Read(*bp)
		var werr error
		if n > 0 {
			_, werr = s.Write((*bp)[:n])
		}
		s.c.bufs.Put(bp)
		if werr != nil {
			return total, werr
		}
		total += int64(n)
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}
