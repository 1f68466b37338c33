// Package portforward holds the wire facts of Kubernetes port-forward that do
// not depend on the transport (PROTOCOL.md sections 5, 6 and 7): the
// subprotocol names, the headers and types of a SPDY forward's streams, the
// channel layout and port prefix of the WebSocket forward, and the kubelet's
// words on the error stream. It does no I/O.
//
// Over SPDY (portforward.k8s.io, and the same tunnelled through a WebSocket
// as SPDY/3.1+portforward.k8s.io) each forwarded connection is a pair of
// streams, error then data, with the same port and requestid headers.
//
// Over WebSocket channel framing (v4.channel.k8s.io and older, the ports in
// the query) the i-th port uses data channel 2i and error channel 2i+1, and
// the first message on each carries the port, 2 bytes little-endian: port 80
// on channel 0 is the message 00 50 00.
//
// UDP forwarding is porthole's extension of the SPDY wire (udp.go): its own
// subprotocol, offered only by a client that forwards a UDP port, and
// datagram pairs whose datagrams are length-prefixed on the data stream.
package portforward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/porthole/porthole/protocol"
)

// Subprotocol names.
const (
	// Name is port-forward's SPDY subprotocol.
	Name = "portforward.k8s.io"
	// TunnelName is Name over SPDY tunnelled in a WebSocket (PROTOCOL.md 7).
	TunnelName = protocol.TunnelPrefix + Name
)

// The headers of a SPDY forward's streams (lower case on the wire).
const (
	HeaderStreamType = protocol.HeaderStreamType
	HeaderPort       = "port"
	HeaderRequestID  = "requestid"
)

// Stream types of a SPDY forward's pair.
const (
	StreamError = protocol.StreamError
	StreamData  = "data"
)

// ParsePort reads a port header: a decimal port from 1 to 65535.
func ParsePort(v string) (uint16, error) {
	p, err := strconv.ParseUint(v, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("invalid port header %q", v)
	}
	return uint16(p), nil
}

// PairID names the connection a stream belongs to: its requestid header,
// or for clients older than request IDs the error stream's ID, which is the
// data stream's ID minus two (the error stream is opened first).
func PairID(requestID string, streamID uint32, typ string) string {
	if requestID != "" {
		return requestID
	}
	if typ == StreamData {
		streamID -= 2
	}
	return strconv.FormatUint(uint64(streamID), 10)
}

// ErrorMessage is what the kubelet writes on a connection's error stream
// when it cannot forward to the pod.
func ErrorMessage(port uint16, pod, uid string, err error) string {
	return fmt.Sprintf("error forwarding port %d to pod %s, uid %v: %v", port, pod, uid, err)
}

// PortPrefixLen is the length of the WebSocket port prefix.
const PortPrefixLen = 2

// ErrShortPortPrefix reports a first message shorter than the port prefix.
var ErrShortPortPrefix = errors.New("port prefix shorter than 2 bytes")

// Channels are the WebSocket data and error channels of the i-th port.
func Channels(i int) (data, errc byte) { return byte(2 * i), byte(2*i + 1) }

// AppendPortPrefix appends port as 2 bytes little-endian.
func AppendPortPrefix(dst []byte, port uint16) []byte {
	return binary.LittleEndian.AppendUint16(dst, port)
}

// ParsePortPrefix reads the port prefix from the start of a payload and
// returns the rest.
func ParsePortPrefix(payload []byte) (port uint16, rest []byte, err error) {
	if len(payload) < PortPrefixLen {
		return 0, nil, ErrShortPortPrefix
	}
	return binary.LittleEndian.Uint16(payload), payload[PortPrefixLen:], nil
}
