package spdy

import (
	"sync"
	"sync/atomic"
)

// maxOwedAnswers bounds the PING answers waiting for the write side. A
// peer that keeps pinging while our writes are blocked gets the first ones
// answered and the rest dropped, as a WebSocket endpoint may answer only
// the latest ping.
const maxOwedAnswers = 8

// answers answers the peer's PINGs off spdystream's hands. spdystream
// writes the answer on the frame worker that also hands one stream in five
// its DATA: when our writes are blocked (a full upload, the peer not
// reading) that worker blocks, its streams stop being read, and when the
// peer's reading of our upload waits on what it sends us (an echo, a
// process's output), the connection stops for good. frameGate takes each
// PING request out of the inbound bytes instead (requests carry the peer's
// parity: odd from a client, even from a server) and peerPing queues the
// answer, which the next holder of the wire's write lock sends after its
// frame (unlock), or else a goroutine of its own (sendLoop). The
// answers to our own PINGs pass on to spdystream, whose Ping waits for them.
type answers struct {
	server bool         // we are the server: the peer's PINGs are odd
	spawn  func(func()) // runs a function on a goroutine the Conn joins
	mu     sync.Mutex   // guards ids and n
	ids    [maxOwedAnswers]uint32
	n      int
	owed   atomic.Bool // ids holds answers not yet sent
	busy   atomic.Bool // a goroutine of spawn's is sending them
	w      *wire
}

// request reports whether a PING with id is the peer's own, to answer.
func (a *answers) request(id uint32) bool { return (id%2 == 1) == a.server }

// peerPing is frameGate's hook for each inbound PING; it reports whether
// the PING was a request, answered here and kept from spdystream.
func (a *answers) peerPing(id uint32) bool {
	if a.spawn == nil || !a.request(id) {
		return false
	}
	// What the scanner would have seen, had the frame gone by.
	_, _ = a.w.frame(&Frame{Control: true, Type: typePing, PingID: id})
	a.mu.Lock()
	if a.n < len(a.ids) {
		a.ids[a.n] = id
		a.n++
	}
	a.mu.Unlock()
	a.owed.Store(true)
	if a.busy.CompareAndSwap(false, true) {
		a.spawn(a.sendLoop)
	}
	return true
}

// sendLoop takes the write lock (waiting behind a blocked writer, which is
// why it is not the reader's job) and sends what is owed, until nothing is.
func (a *answers) sendLoop() {
	for {
		a.w.wmu.Lock()
		a.w.unlock()
		a.busy.Store(false)
		// A PING owed after unlock's last look, whose CompareAndSwap found
		// busy still set, is ours to send.
		if !a.owed.Load() || !a.busy.CompareAndSwap(false, true) {
			return
		}
	}
}

// send writes every answer owed, in one write; wmu held. Once the write
// side is shut or broken they are dropped, as nothing more goes out.
func (a *answers) send() {
	a.owed.Store(false) // before taking the list: a later PING sets it again
	a.mu.Lock()
	var buf [maxOwedAnswers * 12]byte
	n := 0
	for _, id := range a.ids[:a.n] {
		frame := pingFrame(id)
		n += copy(buf[n:], frame[:])
	}
	a.n = 0
	a.mu.Unlock()
	if n == 0 || a.w.writable() != nil {
		return
	}
	if _, err := a.w.Conn.Write(buf[:n]); err != nil {
		a.w.werr = err
		return
	}
	a.w.touch()
}
