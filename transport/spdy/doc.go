// Package spdy is stream.Conn over SPDY/3.1, as spoken by every Kubernetes
// SPDY peer (client-go, the kubelet, CRI streaming servers): Dial for the
// client side, Upgrade for the server side, both on
// github.com/moby/spdystream v0.5.1. PROTOCOL.md sections 4 and 5 are the
// wire facts; 2.4 lists the upgrade failures Upgrade reproduces.
//
// # Message flow
//
//	C→S  POST ... Connection: Upgrade, Upgrade: SPDY/3.1, X-Stream-Protocol-Version: v4.channel.k8s.io (one line each)
//	S→C  101, X-Stream-Protocol-Version: <chosen>; SPDY frames follow at once, both ways
//	C→S  SYN_STREAM {streamtype: error}      S→C SYN_REPLY (sent before Accept returns it)
//	...  DATA both ways; CloseWrite = empty DATA with FIN; Reset = RST_STREAM CANCEL
//	S→C  RST_STREAM for streams still open, GOAWAY, then a lingering close (Conn.Close)
//
// # What this package adds to spdystream
//
//   - Upgrade and Dial with the Kubernetes negotiation and error texts.
//   - Writes coalesced per frame (spdystream writes each frame in several
//     small writes) and DATA frames of at most 32 KiB from Write, 64 KiB
//     from ReadFrom (a process's output, see readFromFrameSize). Our DATA
//     frames skip spdystream's writer: ReadFrom reads into a pooled buffer
//     after room for the frame header and sends the frame with one write;
//     Write sends header and payload with one writev. No allocation or copy
//     per frame.
//   - Header compression (see below): spdystream's framer is set to write
//     and read header blocks uncompressed (rawHeaders), and the wire
//     compresses them, so no connection holds compress/flate's 650 KiB
//     compressor.
//   - A tail-safe Close: GOAWAY, TCP half-close, read and discard until the
//     peer closes, then close (the kubelet closes at once and can lose the
//     tail of a slowly read stream to a TCP RST).
//   - Read tells a peer's end (FIN or RST_STREAM: io.EOF) from a failed
//     connection (*stream.ConnError).
//   - A bound on open streams, an idle timeout counting every frame (pings
//     included, as in the kubelet), and client pings every 5 s like
//     client-go. A server's keep-alive PINGs only a connection on which no
//     frame moved either way for the interval (see idle.KeepAlive).
//   - The peer's PINGs are answered here, not by spdystream, on either side,
//     except during a lingering close, when nothing is answered: spdystream
//     writes its answer on a frame worker, which blocks while our writes do
//     and, through an echo of them, can stop the connection for good
//     (answers).
//   - Close joins every goroutine, spdystream's own included
//     (its reader, five workers and shutdown; its small helper goroutines end
//     right after its reader does).
//
// # Backpressure and shared fate
//
// spdystream has no flow control: it never sends WINDOW_UPDATE and ignores
// those it receives. Outbound, Write blocks while TCP does, which is the only
// backpressure the peer can exert, and it is per connection, not per stream.
// Inbound, spdystream's reader hands frames to five worker queues (stream ID
// mod 5, 50 frames each), and a worker hands each DATA frame to the stream's
// Read synchronously. So when one stream is not read:
//
//   - its worker waits, and so do the other streams on that worker (IDs
//     congruent mod 5), and the control frames spdystream routes there
//     (answers to our PINGs included; the peer's own never reach it).
//     Exec's streams (IDs 1, 3, 5, 7, 9) sit on five different workers;
//     in port-forward, the stream pair of request N shares workers with
//     that of request N+5 (IDs 10 apart);
//   - after 50 more frames for that worker the reader itself waits, and every
//     stream of the connection stops receiving; TCP then pushes back on the
//     peer, whose writes block.
//
// Memory stays bounded: at most about 5 x 51 inbound frames are held, each
// as large as the peer made it (client-go sends at most 32 KiB; spdystream
// accepts up to 16 MiB, so a hostile peer can make a stalled connection hold
// up to a few GiB: put a proxy limit in front if that matters). A stream's
// reader is never blocked by another stream's writer. The caller's remedy for
// a consumer that stops is Reset on its stream, which drops that stream's
// frames and unblocks the worker. A server connection whose reader has not
// read for a second looks at the socket meanwhile and aborts when the
// client is gone (stream.ErrPeerGone), sending it a PING otherwise so that
// a killed client's kernel answers with a reset (see stallWatch).
//
// Header blocks are checked before spdystream decodes them, on every side
// (Upgrade, Dial, NewServer, NewClient): a SYN_STREAM, SYN_REPLY or HEADERS
// frame may carry at most 64 KiB, its header block may decompress to at most
// 64 KiB, with at most 128 values (each NUL in a value starts one more) of at
// most 16 KiB per name or value. A peer over a limit loses the connection:
// the header compression state is shared by the whole connection, so no
// later frame could be decoded. Err names the limit (ErrHeaderLimit).
// Other control frames are limited to 64 KiB too.
package spdy
