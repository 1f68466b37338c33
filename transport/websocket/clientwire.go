package websocket

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// clientWire is the upgraded connection under a dialled coder/websocket
// Conn (the 101 response's body), through which the client writes its data
// frames itself.
//
// Why: coder/websocket masks a client's payload inside its 4 KiB write
// buffer and flushes that buffer whenever it fills, so a 32 KiB message cost
// nine writes to the socket (strace of a 1 GiB `porthole cp` upload: 294,925
// writes, against kubectl's 32,780). writeFrame builds the whole masked frame
// in one buffer and writes it once.
//
// wmu makes each write one whole frame on the wire: ours, and
// coder/websocket's, which on a client only writes control frames (ping,
// pong, close), each a single flushed Write of at most 139 bytes. sealed is
// set under wmu once a close frame went out, after which no data frame may
// follow, as coder/websocket refuses its own writes then.
type clientWire struct {
	io.ReadWriteCloser
	r *bufio.Reader // when set, reads go through it (tunnelReadBuf)

	wmu    sync.Mutex
	sealed bool

	// pongs gets a value (if it has room) for each pong received.
	pongs chan struct{}
	// onPing, when set, answers the server's pings in place of
	// coder/websocket (Conn.onPing); set before any frame is read.
	onPing func(context.Context, []byte) bool
}

// Read reads the connection, through r when set.
func (w *clientWire) Read(p []byte) (int, error) {
	if w.r != nil {
		return w.r.Read(p)
	}
	return w.ReadWriteCloser.Read(p)
}

// onPong is coder/websocket's OnPongReceived.
func (w *clientWire) onPong(context.Context, []byte) {
	select {
	case w.pongs <- struct{}{}:
	default:
	}
}

// Write passes one of coder/websocket's control frames through.
func (w *clientWire) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if len(p) > 0 && p[0]&0x0f == opClose {
		w.sealed = true
	}
	return w.ReadWriteCloser.Write(p)
}

// maxMaskedHeaderLen is the longest masked frame header: 2 bytes, a 64-bit
// length and the 4-byte key.
const maxMaskedHeaderLen = maxHeaderLen + 4

// frameBufMax is the largest payload a pooled frame buffer holds: a
// client's largest message, or a 32 KiB SPDY DATA frame with its 8-byte
// header in one tunnel message (Tunnel.WriteMessage).
const frameBufMax = max(clientMsgMax, 32<<10+8)

// frameBufs holds frame buffers for frameBufMax bytes of payload.
var frameBufs = sync.Pool{New: func() any {
	b := make([]byte, maxMaskedHeaderLen+frameBufMax)
	return &b
}}

// writeFrame writes one final frame of opcode op (data, or a ping) whose payload is the
// channel byte id (none if negative) then payload and more, masked with a fresh
// random key (RFC 6455 5.3), in one write. payload and more are not modified.
func (w *clientWire) writeFrame(op byte, id int, payload, more []byte) error {
	n := len(payload) + len(more)
	if id >= 0 {
		n++
	}
	var bp *[]byte
	var buf []byte
	if n <= frameBufMax {
		bp = frameBufs.Get().(*[]byte)
		defer frameBufs.Put(bp)
		buf = (*bp)[:0]
	} else {
		buf = make([]byte, 0, maxMaskedHeaderLen+n)
	}
	buf = appendHeader(buf, op, n)
	buf[1] |= 0x80 // masked
	var key [4]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	buf = append(buf, key[:]...)
	start := len(buf)
	if id >= 0 {
		buf = append(buf, byte(id))
	}
	buf = append(append(buf, payload...), more...)
	maskBytes(buf[start:], key)

	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.sealed {
		return net.ErrClosed
	}
	_, err := w.ReadWriteCloser.Write(buf)
	return err
}

// maskBytes XORs p in place with key, starting at key byte 0, eight bytes
// at a time.
func maskBytes(p []byte, key [4]byte) {
	k32 := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k32) | uint64(k32)<<32
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^k64)
		p = p[8:]
	}
	for i := range p {
		p[i] ^= key[i&3]
	}
}
