// Package protocol holds the wire facts of Kubernetes container streaming that
// do not depend on the transport: subprotocol names, what each remote-command
// version can do, and how client and server agree on one.
//
// Version differences live in the single table Versions; code asks a Version
// what it has (Status JSON, resize, close signal, base64) rather than switching
// on names. See PROTOCOL.md sections 3.1, 4.1 and 4.3.
package protocol

import (
	"net/http"
	"net/url"
	"strings"
)

// Remote-command subprotocol names, as the Kubernetes sources spell them.
const (
	V5       = "v5.channel.k8s.io"
	V4       = "v4.channel.k8s.io"
	V4Base64 = "v4.base64.channel.k8s.io"
	V3       = "v3.channel.k8s.io"
	V2       = "v2.channel.k8s.io"
	V1       = "channel.k8s.io"
	V1Base64 = "base64.channel.k8s.io"
	Unnamed  = "" // a WebSocket client that offered no subprotocol: binary v1 framing
	// TunnelPrefix marks SPDY tunnelled through a WebSocket:
	// "SPDY/3.1+portforward.k8s.io" (PROTOCOL.md section 7).
	TunnelPrefix = "SPDY/3.1+"
)

// Wire is the transport a session runs on.
type Wire string

const (
	WebSocket Wire = "websocket"
	SPDY      Wire = "spdy"
	// InProcess is reported (audit, sessions API) as the upstream wire of a
	// session a gateway runs on a node in its own process, with no wire.
	InProcess Wire = "in-process"
)

// Version describes what one remote-command protocol version carries.
type Version struct {
	Name string
	// StatusJSON: the error channel carries a Status document (v4, v5); older
	// versions carry plain text on failure and nothing on success.
	StatusJSON bool
	// Resize: a resize stream exists (all WebSocket versions; SPDY from v3).
	Resize bool
	// CloseSignal: the client may half-close a channel with {0xFF, ch} (v5 only).
	CloseSignal bool
	// Base64: WebSocket text frames, '0'+channel then standard base64.
	Base64 bool
	// ResetErrorStream: SPDY v1 servers reset the error stream right after
	// setup and half-close stdin (a historic bug kept for compatibility).
	ResetErrorStream bool
}

// WebSocketVersions are the remote-command versions a node serves over
// WebSocket, in the server's order of preference (the client's order wins).
var WebSocketVersions = []Version{
	{Name: V5, StatusJSON: true, Resize: true, CloseSignal: true},
	{Name: V4, StatusJSON: true, Resize: true},
	{Name: V4Base64, StatusJSON: true, Resize: true, Base64: true},
	{Name: V1, Resize: true},
	{Name: V1Base64, Resize: true, Base64: true},
}

// UnnamedWebSocket is the version of a WebSocket client that offered no
// subprotocol at all: binary framing, text errors, like channel.k8s.io.
var UnnamedWebSocket = Version{Name: Unnamed, Resize: true}

// SPDYVersions are the remote-command versions a node serves over SPDY.
// No SPDY server accepts v5 (PROTOCOL.md 4.1), though clients offer it.
var SPDYVersions = []Version{
	{Name: V4, StatusJSON: true, Resize: true},
	{Name: V3, Resize: true},
	{Name: V2},
	{Name: V1, ResetErrorStream: true},
}

// SPDYClientOffer is what client-go offers over SPDY, most preferred first.
var SPDYClientOffer = []string{V5, V4, V3, V2, V1}

// Lookup finds name in versions.
func Lookup(versions []Version, name string) (Version, bool) {
	for _, v := range versions {
		if v.Name == name {
			return v, true
		}
	}
	return Version{}, false
}

// Negotiate picks the first of the client's offers that the server supports:
// client preference wins, as in every Kubernetes server. ok is false when
// nothing matches.
func Negotiate(offered, supported []string) (chosen string, ok bool) {
	for _, o := range offered {
		for _, s := range supported {
			if o == s {
				return o, true
			}
		}
	}
	return "", false
}

// Names returns the names of versions, in order.
func Names(versions []Version) []string {
	out := make([]string, len(versions))
	for i, v := range versions {
		out[i] = v.Name
	}
	return out
}

// SplitHeader splits header values that may each hold several comma-separated
// tokens, trimming space and dropping empty tokens. Kubernetes SPDY servers
// read every X-Stream-Protocol-Version line; WebSocket servers read only the
// first Sec-WebSocket-Protocol line, so callers pass h.Values or h.Get as fits.
func SplitHeader(values []string) []string {
	var out []string
	for _, v := range values {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				out = append(out, tok)
			}
		}
	}
	return out
}

// Header names used in negotiation.
const (
	HeaderStreamProtocol    = "X-Stream-Protocol-Version"
	HeaderAcceptedProtocol  = "X-Accepted-Stream-Protocol-Versions"
	HeaderWebSocketProtocol = "Sec-WebSocket-Protocol"
)

// IsWebSocketUpgrade reports whether r asks for a WebSocket upgrade.
func IsWebSocketUpgrade(r *http.Request) bool {
	return HeaderHasToken(r.Header, "Connection", "upgrade") && HeaderHasToken(r.Header, "Upgrade", "websocket")
}

// IsSPDYUpgrade reports whether r asks for a SPDY/3.1 upgrade.
func IsSPDYUpgrade(r *http.Request) bool {
	return HeaderHasToken(r.Header, "Connection", "upgrade") && HeaderHasToken(r.Header, "Upgrade", "spdy/3.1")
}

// HeaderHasToken reports whether any of h's name lines lists token, in
// any case (Connection: keep-alive, Upgrade).
func HeaderHasToken(h http.Header, name, token string) bool {
	for _, v := range SplitHeader(h.Values(name)) {
		if strings.EqualFold(v, token) {
			return true
		}
	}
	return false
}

// QueryBool reads a boolean query parameter as the API server does: a
// present parameter is true unless its first value is "0" or "false" (any
// case).
func QueryBool(q url.Values, key string) bool {
	v, ok := q[key]
	if !ok {
		return false
	}
	return len(v) == 0 || !(v[0] == "0" || strings.EqualFold(v[0], "false"))
}
