// Package websocket carries channel.k8s.io remote-command (and legacy
// port-forward) sessions over RFC 6455, on both sides: Accept upgrades a
// request on the node, Dial connects a client. It implements stream.Conn with
// one stream per channel; the framing itself lives in protocol/channel and the
// version table in protocol. PROTOCOL.md sections 3 and 6 are the spec.
//
// Message flow (v5, PROTOCOL.md 3.13):
//
//	client                                server
//	GET, Sec-WebSocket-Protocol: v5...  ->
//	                                    <- 101, Sec-WebSocket-Protocol: v5.channel.k8s.io
//	                                    <- [01]                  "connected" (written by the node)
//	[00 'h' 'i']                        ->                       stdin
//	[FF 00]                             ->                       stdin EOF (v5 close signal)
//	                                    <- [01 'h' 'i']          stdout
//	                                    <- [03] {"status":"Success"}
//	                                    <- close 1000, echo ->, FIN both ways
//
// Concurrency and fate sharing: one read loop per connection reads every
// frame, answers pings and hands each data message to its channel's Read
// synchronously, with no buffer in between (the consumer's Read reads straight
// from the socket). A channel whose consumer stops reading therefore stops
// the read loop: every inbound channel of the connection, pongs and the close
// handshake wait with it, exactly like the Kubernetes servers. Channels a
// consumer will never read must be closed with CloseRead (or Reset) so their
// messages are discarded instead. One thing does not wait: on the server, a
// read loop that has waited a second for a consumer looks at the socket and
// ends the connection if the client is gone (stream.ErrPeerGone), pinging it
// meanwhile so that a killed client's kernel answers with a reset (see
// checkPeer); otherwise a vanished client would keep its session and process
// alive for as long as the consumer stalls. Outbound, all channels share one
// socket and one write lock: Write blocks while the peer does not read, and a
// frozen peer stalls every writer of the connection, never another
// connection.
//
// Memory: inbound messages are never buffered; outbound messages use buffers
// from a shared pool only while a write is in progress, and ReadFrom waits for
// its source to become readable before taking one, so an idle session holds
// only its socket buffers and goroutine stacks.
//
// Endings: Close is the graceful end (close 1000 after every written byte,
// then a lingering TCP close, see lingerConn); Abort ends at once with a
// reason; a malformed v5 close signal aborts with 1002, an oversized message
// with 1009, idleness closes the socket like the real servers' deadlines.
package websocket
