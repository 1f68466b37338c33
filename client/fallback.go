package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// UpgradeError is a server's refusal to upgrade: a non-101 answer, a
// malformed 101, or a protocol that was not offered. Message is what the
// server said (a Status message, or the body text).
type UpgradeError struct {
	Wire       Wire
	StatusCode int
	Message    string
	Err        error // the transport's error, if any
}

func (e *UpgradeError) Error() string {
	if e.Message == "" && e.Err != nil {
		return fmt.Sprintf("unable to upgrade connection (%s, %d): %v", e.Wire, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("unable to upgrade connection: %s", e.Message)
}

func (e *UpgradeError) Unwrap() error { return e.Err }

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
	var wue *websocket.UpgradeError
	var wpe *websocket.ProtocolError
	var ue *UpgradeError
	switch {
	case errors.As(err, &wue), errors.As(err, &wpe):
		return true
	case errors.As(err, &ue):
		return ue.Wire == WireWebSocket
	}
	return strings.Contains(err.Error(), unknownHTTPSProxy)
}

// upgradeError turns a transport's refusal into an *UpgradeError for the
// caller; other errors pass unchanged.
func upgradeError(err error) error {
	var wue *websocket.UpgradeError
	var sue *spdy.UpgradeError
	var wpe *websocket.ProtocolError
	switch {
	case errors.As(err, &sue):
		return &UpgradeError{Wire: WireSPDY, StatusCode: sue.StatusCode, Message: sue.Message, Err: err}
	case errors.As(err, &wue):
		return &UpgradeError{Wire: WireWebSocket, StatusCode: wue.StatusCode, Message: status.UpgradeMessage(wue.Body), Err: err}
	case errors.As(err, &wpe):
		return &UpgradeError{Wire: WireWebSocket, StatusCode: 101, Message: wpe.Error(), Err: err}
	}
	return err
}
