package client

import (
	"errors"
	"github.com/porthole/porthole/stream"
	"strings"
)

// UpgradeError is a server's refusal to upgrade, on either wire: a non-101
// answer, a malformed 101, or a protocol that was not offered. Message is
// what the server said (a Status message, or the body text).
type UpgradeError = stream.UpgradeError

// unknownHTTPSProxy is the text of old gorilla/websocket's https-proxy
// limitation, which client-go still treats as a reason to fall back.
const unknownHTTPSProxy = "proxy: unknown scheme: https"

// isUpgradeFailure reports whether a WebSocket attempt failed in a way that
// makes client-go retry over SPDY (PROTOCOL.md section 9): a non-101 answer
// of any code (the empty 403 of legacy servers included), a malformed 101, a
// 101 naming a subprotocol that was not offered, or the gorilla https-proxy
// message. DNS, TCP, TLS and proxy errors, cancellation, and anything after a
// good 101 are not, so no session is started twice.
func isUpgradeFailure(err error) bool {
	if err == nil {
		return false
	}
	var ue *UpgradeError
	if errors.As(err, &ue) {
		return ue.Wire == WireWebSocket
	}
	return strings.Contains(err.Error(), unknownHTTPSProxy)
}
