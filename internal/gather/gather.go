// Package gather writes several buffers as one write through the
// connections that wrap a socket.
//
// net.Buffers becomes one writev only on the net package's own
// connections. Through a wrapper (the gateway's in-process client, its
// last-word conn) it becomes one Write per buffer: a syscall each and,
// with TCP_NODELAY, a packet each, so a WebSocket frame's 10-byte header
// went out ahead of its payload and woke the peer twice. A wrapper that
// can pass the buffers on whole implements Writer.
package gather

import (
	"io"
	"net"
)

// Writer writes buffers in order as one write where it can.
type Writer interface {
	// WriteBuffers writes the buffers in order and consumes them, as
	// net.Buffers.WriteTo does: on return *b holds what was not written.
	WriteBuffers(b *net.Buffers) (int64, error)
}

// To writes the buffers to w in order, through w's WriteBuffers when it
// has one and as net.Buffers.WriteTo does otherwise (writev on a socket,
// one Write per buffer elsewhere).
func To(w io.Writer, b *net.Buffers) (int64, error) {
	if gw, ok := w.(Writer); ok {
		return gw.WriteBuffers(b)
	}
	return b.WriteTo(w)
}

// Each writes the buffers in order with one write call each, consuming
// them: a Writer's WriteBuffers for a destination that cannot gather.
func Each(write func([]byte) (int, error), b *net.Buffers) (int64, error) {
	var total int64
	for len(*b) > 0 {
		p := (*b)[0]
		n, err := write(p)
		total += int64(n)
		if err != nil {
			(*b)[0] = p[n:]
			return total, err
		}
		if n < len(p) {
			(*b)[0] = p[n:]
			return total, io.ErrShortWrite
		}
		(*b)[0] = nil
		*b = (*b)[1:]
	}
	return total, nil
}
