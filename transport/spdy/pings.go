package spdy

import (
	"encoding/binary"
	"sync/atomic"
)

// KeepAlivePingID is the first of a server's keep-alive PING IDs: even, as
// a server's must be (the client answers with the same ID), and counting
// down from the top, away from spdystream's own PINGs, which count up and
// ignore an answer they did not ask for.
const KeepAlivePingID = 0x7ffffffe

// KeepAlivePings is a server's sequence of keep-alive PINGs toward one
// client, and the check that tells the client's answers to them from the
// client's own PINGs: the transport's keep-alive and the gateway's toward
// a spliced client both use it. The zero value is ready; Next is called by
// one writer at a time, Answers from any goroutine.
type KeepAlivePings struct {
	sent   uint32
	lowest atomic.Uint32 // the last PING's ID (0: none yet)
}

// Next returns the next keep-alive PING frame, wrapping back to the top
// after a billion of them.
func (k *KeepAlivePings) Next() [12]byte {
	id := KeepAlivePingID - 2*k.sent
	if id < 2 {
		k.sent, id = 0, KeepAlivePingID
	}
	k.sent++
	k.lowest.Store(id)
	return pingFrame(id)
}

// pingFrame is a SPDY/3 PING frame carrying id: a keep-alive's, or the
// answer to the peer's (answers).
func pingFrame(id uint32) [12]byte {
	frame := [12]byte{0x80, 0x03, 0x00, typePing, 0x00, 0x00, 0x00, 0x04}
	binary.BigEndian.PutUint32(frame[8:], id)
	return frame
}

// Answers reports whether a PING the client sent with id answers one of
// the PINGs Next made.
func (k *KeepAlivePings) Answers(id uint32) bool {
	low := k.lowest.Load()
	return low != 0 && id%2 == 0 && id >= low && id <= KeepAlivePingID
}
