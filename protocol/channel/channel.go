// Package channel holds the wire facts of channel.k8s.io framing, the message
// layout every Kubernetes WebSocket remote-command and legacy port-forward
// session uses (PROTOCOL.md sections 3.3, 3.4, 3.9 and 6). It does no I/O.
//
// Binary versions (channel.k8s.io, v4.channel.k8s.io, v5.channel.k8s.io and a
// client offering no subprotocol): every message is one channel byte followed
// by the payload.
//
//	+---------+-------------------+
//	| channel | payload (0..n)    |   stdin "ls\n" = 00 6C 73 0A
//	+---------+-------------------+
//
// Base64 versions (base64.channel.k8s.io, v4.base64.channel.k8s.io): text
// messages, the ASCII digit '0'+channel then the standard padded base64 of the
// payload: stdout "OUT:" = "1T1VUOg==", an empty payload = "1".
//
// v5.channel.k8s.io adds the close signal, a two-byte client-to-server message
// {0xFF, channel} meaning "no more data on channel" (half-close). Any other
// length, or a channel the server does not have, is a protocol error that ends
// the connection.
//
// A message of length 0 carries nothing and is skipped by every peer; the
// "connected" message a server sends first is the channel byte alone.
package channel

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// Remote-command channel numbers (PROTOCOL.md 3.3). The server always has all
// five; which ones carry data depends on the request.
const (
	Stdin  = 0 // client -> server: process stdin
	Stdout = 1 // server -> client: process stdout (and stderr with a tty)
	Stderr = 2 // server -> client: process stderr, silent with a tty
	Error  = 3 // server -> client: failure text (v1) or Status JSON (v4, v5), then close
	Resize = 4 // client -> server: JSON terminal sizes, one object per message

	// RemoteCommand is the number of remote-command channels.
	RemoteCommand = 5

	// CloseSignal is not a channel: in v5 a client message {255, ch} (exactly
	// two bytes) half-closes channel ch. Older servers treat it as data for
	// channel 255 and drop it.
	CloseSignal = 255
)

// HeaderLen is the framing overhead of a binary message: the channel byte.
const HeaderLen = 1

// ErrEmpty reports a message of length 0, which carries no channel and is
// skipped (it is not an error on the wire).
var ErrEmpty = errors.New("empty message")

// ErrCloseSignal reports a malformed v5 close signal: the connection must end.
var ErrCloseSignal = errors.New("malformed close signal")

// Append appends the binary message for payload on channel ch to dst.
func Append(dst []byte, ch byte, payload []byte) []byte {
	dst = append(dst, ch)
	return append(dst, payload...)
}

// Decode splits a binary message into its channel and payload. The payload
// aliases msg; Decode does not allocate. An empty message returns ErrEmpty.
func Decode(msg []byte) (ch byte, payload []byte, err error) {
	if len(msg) == 0 {
		return 0, nil, ErrEmpty
	}
	return msg[0], msg[1:], nil
}

// Base64Len is the length of the base64 message for an n-byte payload.
func Base64Len(n int) int { return 1 + base64.StdEncoding.EncodedLen(n) }

// Base64PayloadMax is the largest payload whose base64 message fits in
// msgLen bytes (a multiple of 3, so chunks encode without padding).
func Base64PayloadMax(msgLen int) int {
	if msgLen <= 1 {
		return 0
	}
	return (msgLen - 1) / 4 * 3
}

// AppendBase64 appends the base64 text message for payload on channel ch:
// '0'+ch, then standard padded base64. The digit wraps like the byte
// arithmetic of the Kubernetes servers for channels above 9.
func AppendBase64(dst []byte, ch byte, payload []byte) []byte {
	dst = append(dst, '0'+ch)
	return base64.StdEncoding.AppendEncode(dst, payload)
}

// EncodeBase64 writes the base64 message for payload on channel ch into dst,
// which must hold Base64Len(len(payload)) bytes, and returns that length.
func EncodeBase64(dst []byte, ch byte, payload []byte) int {
	dst[0] = '0' + ch
	base64.StdEncoding.Encode(dst[1:], payload)
	return Base64Len(len(payload))
}

// DecodeBase64 decodes a base64 text message, appending the payload to dst.
// The channel is the first byte minus '0' (wrapping, as the servers do).
// Invalid base64 is an error; peers drop such a message.
func DecodeBase64(dst, msg []byte) (ch byte, payload []byte, err error) {
	if len(msg) == 0 {
		return 0, dst, ErrEmpty
	}
	payload, err = base64.StdEncoding.AppendDecode(dst, msg[1:])
	if err != nil {
		return 0, dst, fmt.Errorf("decode base64 message: %w", err)
	}
	return msg[0] - '0', payload, nil
}

// CloseMessage is the v5 close signal for channel ch: {0xFF, ch}.
func CloseMessage(ch byte) [2]byte { return [2]byte{CloseSignal, ch} }

// ParseCloseSignal checks a message whose first byte is CloseSignal, for a
// server with the given number of channels. A length other than 2 or a
// channel >= channels is ErrCloseSignal, which ends the connection as in the
// Kubernetes servers (PROTOCOL.md 3.9).
func ParseCloseSignal(msg []byte, channels int) (ch byte, err error) {
	if len(msg) == 0 || msg[0] != CloseSignal {
		return 0, fmt.Errorf("%w: does not start with 0xFF", ErrCloseSignal)
	}
	if len(msg) != 2 {
		return 0, fmt.Errorf("%w: length %d, want 2", ErrCloseSignal, len(msg))
	}
	if int(msg[1]) >= channels {
		return 0, fmt.Errorf("%w: channel %d of %d", ErrCloseSignal, msg[1], channels)
	}
	return msg[1], nil
}
