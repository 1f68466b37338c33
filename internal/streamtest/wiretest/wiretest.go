// Package wiretest scripts the peers of the transport and gateway tests:
// the bytes of WebSocket and SPDY frames as a peer would send them, and
// connected loopback TCP pairs to send them on. It depends on nothing of
// porthole's, so the transports' own tests can use it.
package wiretest

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/moby/spdystream/spdy"
)

// WSFrame is a WebSocket frame (RFC 6455 5.2) with opcode op; a non-nil
// 4-byte mask masks it, as a client must.
func WSFrame(fin bool, op byte, payload, mask []byte) []byte {
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	m := byte(0)
	if mask != nil {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 1<<16:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if mask == nil {
		return append(b, payload...)
	}
	b = append(b, mask...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// SPDYFrames serialises frames with spdystream's own framer, header
// blocks compressed in one zlib stream as a peer's connection would.
func SPDYFrames(t testing.TB, frames ...spdy.Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	fr, err := spdy.NewFramer(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := fr.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TCPPair is a connected pair of TCP connections on 127.0.0.1; callers
// size the kernel buffers they need (SetReadBuffer, SetWriteBuffer). The
// test's cleanup closes both.
func TCPPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.AcceptTCP()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
