package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Session resume (porthole's extension, not Kubernetes'). A client that can
// resume offers ResumeV5 ahead of v5.channel.k8s.io; only porthole's
// gateway selects it, so the API server, the kubelet and any other server
// pick v5 and the session runs, without resume, on the standard protocol.
// A subprotocol rather than a header: the WebSocket handshake already
// negotiates it end to end (a proxy that forwards the upgrade cannot make a
// server "accept" an extension it does not know), and kubectl and client-go,
// which never offer it, see the standard protocol unchanged.
//
// Framing is v5's plus one channel, ResumeControl, that carries offset
// lines (FormatOffsets): from the client, the output bytes it received per
// stream (acknowledgements: the gateway keeps every byte not yet
// acknowledged); from the gateway, the stdin bytes it wrote to the
// process. A client keeps at most ResumeStdinWindow stdin bytes
// unacknowledged, sent or not, so that the gateway can always read its
// connection, and with it the client's acknowledgements, without buffering
// without bound. The 101 carries the session's id (HeaderSession). After a cut the client
// reconnects with HeaderResume (the id) and HeaderResumeOffsets (what it
// received); the 101 then carries HeaderStdinOffset (the stdin bytes the
// gateway received, written or not), from which the client
// sends its stdin again. The session is over when the gateway closes the
// WebSocket cleanly (close 1000) after the status.
//
// A browser's WebSocket can neither send headers nor read the 101's, so
// the same facts also travel where a page can reach them: a reconnect may
// name the session and its offsets in the query (QueryResume,
// QueryResumeOffsets) instead of the headers, and on every connection the
// gateway's first control line is SessionLinePrefix and the id, then an
// offsets line with its stdin count (what HeaderStdinOffset says). A
// client that reads the headers ignores the session line, which is not an
// offsets line, and the stdin count restates what it already knows.
const (
	ResumeV5 = "v5.resume.porthole.dev"
	// ResumeControl is the control channel's number.
	ResumeControl = 5
	// ResumeChannels is how many channels a resumable session has.
	ResumeChannels = 6

	// ResumeStdinWindow is the most stdin a client keeps unacknowledged.
	ResumeStdinWindow = 1 << 20
	// ResumeOutputWindow is the output per stream porthole's gateway keeps
	// unacknowledged before it stops reading the process. A client that
	// acknowledges only on a timer caps the session at this much per
	// period, so clients also acknowledge whenever a quarter of it arrived.
	ResumeOutputWindow = 4 << 20

	HeaderSession       = "X-Porthole-Session"
	HeaderResume        = "X-Porthole-Resume"
	HeaderResumeOffsets = "X-Porthole-Resume-Offsets"
	HeaderStdinOffset   = "X-Porthole-Stdin-Offset"

	QueryResume        = "portholeResume"
	QueryResumeOffsets = "portholeResumeOffsets"
	SessionLinePrefix  = "session="
)

// ResumeVersion is ResumeV5's capabilities: v5's.
var ResumeVersion = Version{Name: ResumeV5, StatusJSON: true, Resize: true, CloseSignal: true}

// Offsets are byte counts per stream of a resumable session.
type Offsets struct {
	Stdin, Stdout, Stderr, Error int64
}

// maxOffsetsLen bounds an offsets line (four keys and 19-digit numbers fit).
const maxOffsetsLen = 128

// offsetKeys are the keys of an offsets line, in order.
var offsetKeys = [...]string{"stdin", "stdout", "stderr", "error"}

func (o *Offsets) slot(k string) *int64 {
	switch k {
	case "stdin":
		return &o.Stdin
	case "stdout":
		return &o.Stdout
	case "stderr":
		return &o.Stderr
	case "error":
		return &o.Error
	}
	return nil
}

// FormatOffsets writes o as "stdin=N,stdout=N,stderr=N,error=N", leaving
// out zero counts.
func FormatOffsets(o Offsets) string {
	var b strings.Builder
	for _, k := range offsetKeys {
		n := *o.slot(k)
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(n, 10))
	}
	return b.String()
}

// ErrBadOffsets is a malformed offsets line.
var ErrBadOffsets = errors.New("malformed resume offsets")

// ParseOffsets reads FormatOffsets' form: known keys at most once each,
// non-negative decimal counts, at most 128 bytes; "" is all zero.
func ParseOffsets(s string) (Offsets, error) {
	var o Offsets
	if len(s) > maxOffsetsLen {
		return o, fmt.Errorf("%w: longer than %d bytes", ErrBadOffsets, maxOffsetsLen)
	}
	if s == "" {
		return o, nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		p := o.slot(k)
		if !ok || p == nil || seen[k] {
			return Offsets{}, fmt.Errorf("%w: %q", ErrBadOffsets, kv)
		}
		seen[k] = true
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || v == "" || v[0] == '+' {
			return Offsets{}, fmt.Errorf("%w: %q", ErrBadOffsets, kv)
		}
		*p = n
	}
	return o, nil
}
