package portforward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/porthole/porthole/protocol"
)

// UDP port-forward is porthole's extension: Kubernetes forwards TCP only
// (kubernetes#47862). It changes nothing for kubectl and client-go, and a
// server that does not know it refuses it at the upgrade, where the client
// can say so, instead of forwarding datagrams into a TCP socket.
//
// Negotiation. A client that forwards at least one UDP port offers UDPName
// before Name: X-Stream-Protocol-Version: udp.portforward.porthole.dev,
// portforward.k8s.io over SPDY, or the same names each prefixed with
// SPDY/3.1+ in the tunnel's Sec-WebSocket-Protocol. Kubernetes servers pick
// the first offered name they speak, so a porthole node answers UDPName and
// the kubelet, the CRI streaming server and an older porthole answer Name:
// the 101 itself tells the client, in one round trip, whether UDP can be
// forwarded, and a client that gets Name reports "the server does not
// support UDP port-forward" and forwards nothing. Offering Name too keeps
// the request routable: the API server and the kubelet send a WebSocket to
// the tunnel only when one offered name ends in .k8s.io, and the API
// server's tunnel drops names that do not (so through a real API server
// UDP needs plain SPDY, which it proxies with the names intact). A client
// that forwards only TCP offers Name alone, exactly as kubectl does. A
// per-stream header alone would not do: a kubelet ignores headers it does
// not know and would write the datagrams into a TCP connection.
//
// Streams. Under UDPName the session is portforward.k8s.io (PROTOCOL.md 5)
// plus datagram pairs: an error and a data stream whose headers also carry
// protocol: UDP (HeaderProtocol). One pair is one flow: the datagrams of one
// local peer address to the pod's port, and the pod's replies to that peer.
// Pairs without the header are TCP connections as before.
//
// Framing. On a datagram pair's data stream, in both directions, each
// datagram is a 2-byte big-endian length and that many bytes:
//
//	00 03 61 62 63   the datagram "abc"
//	00 00            an empty datagram
//
// A length above MaxDatagram is a protocol error that ends the flow. The
// client half-closes the data stream when the flow has been idle for its
// timeout; the server then closes its socket and ends the pair. The error
// stream carries the server's failure text as for TCP.

// UDPName is the SPDY subprotocol of port-forward with UDP.
const UDPName = "udp.portforward.porthole.dev"

// UDPTunnelName is UDPName tunnelled in a WebSocket.
const UDPTunnelName = protocol.TunnelPrefix + UDPName

// HeaderProtocol marks a pair as a UDP flow (value ProtocolUDP, any case).
const HeaderProtocol = "protocol"

// ProtocolUDP is HeaderProtocol's value for a datagram pair.
const ProtocolUDP = "UDP"

// IsUDP reports whether a pair's protocol header names UDP. An absent
// header is TCP.
func IsUDP(headerValue string) bool { return strings.EqualFold(headerValue, ProtocolUDP) }

// MaxDatagram is the largest UDP payload over IPv4 (65535 less the IP and
// UDP headers), the most a datagram frame may carry.
const MaxDatagram = 65507

// DatagramHeaderLen is the length prefix of a framed datagram.
const DatagramHeaderLen = 2

// ErrDatagramTooLarge: a datagram, or a frame's length, exceeds MaxDatagram.
var ErrDatagramTooLarge = fmt.Errorf("datagram larger than %d bytes", MaxDatagram)

// AppendDatagram appends p framed: its length, 2 bytes big-endian, then p.
func AppendDatagram(dst, p []byte) ([]byte, error) {
	if len(p) > MaxDatagram {
		return dst, fmt.Errorf("frame %d-byte datagram: %w", len(p), ErrDatagramTooLarge)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(p)))
	return append(dst, p...), nil
}

// ReadDatagram reads one framed datagram from r into buf, which must hold
// MaxDatagram bytes, and returns its length. It returns io.EOF when r ends
// between frames, io.ErrUnexpectedEOF when it ends inside one, and an error
// wrapping ErrDatagramTooLarge for a length above MaxDatagram (nothing of
// that frame's payload is read).
func ReadDatagram(r io.Reader, buf []byte) (int, error) {
	if len(buf) < MaxDatagram {
		return 0, errors.New("read datagram: buffer smaller than MaxDatagram")
	}
	var h [DatagramHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(h[:]))
	if n > MaxDatagram {
		return 0, fmt.Errorf("read datagram: length %d: %w", n, ErrDatagramTooLarge)
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	return n, nil
}
