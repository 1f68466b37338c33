package spdy

import (
	"io"

	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/stream"
)

// ReadFrom copies r to the stream until EOF (which it does not forward: call
// CloseWrite), one DATA frame per read of at most 64 KiB (readFromFrameSize).
// io.Copy uses it. A read takes what r has now and never waits for more, so
// a process's small output leaves at once while bulk output goes in large
// frames.
//
// Each read goes into a pooled buffer after room for the frame header, so
// a frame leaves with one write, its payload never copied. When r has a
// file descriptor (pipes, ptys, TCP connections; io.Copy's wrappers of
// *os.File and *net.TCPConn keep it), ReadFrom first waits for r to become
// readable and only then takes a buffer, so an idle session holds no buffer
// at all (internal/pump).
func (s *Stream) ReadFrom(r io.Reader) (int64, error) {
	if s.wclosed.Load() {
		return 0, stream.ErrClosed
	}
	id := s.ID()
	return pump.Copy(r, s.c.pool, frameHeaderLen, s.c.readSize, func(frame []byte) error {
		if s.wclosed.Load() {
			return stream.ErrClosed // Reset while ReadFrom runs
		}
		putDataHeader(frame, id, 0, len(frame)-frameHeaderLen)
		if err := s.c.wire.writeFrame(frame); err != nil {
			return s.writeErr("write frame", err)
		}
		return nil
	})
}
