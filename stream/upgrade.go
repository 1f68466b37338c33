package stream

import (
	"fmt"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// UpgradeError is a server's refusal of an upgrade, on either wire: an
// answer other than 101 (StatusCode, and at most 64 KiB of its Body), a 101
// choosing a subprotocol that was not offered (Chosen), or a malformed 101
// (Err). client-go falls back from WebSocket to SPDY on any of them
// (PROTOCOL.md 9); callers test for it with errors.As.
type UpgradeError struct {
	Wire       protocol.Wire
	StatusCode int
	Body       []byte
	// Message is what client-go reports: the message of a Status body,
	// else the trimmed body, else "empty server response"; or what was
	// wrong with a 101.
	Message string
	// Offered and Chosen name the subprotocols of a mismatched 101.
	Offered []string
	Chosen  string
	// Err is the cause of a malformed 101.
	Err error
}

// NewUpgradeRefusal is the refusal of an upgrade on wire with a non-101
// answer.
func NewUpgradeRefusal(wire protocol.Wire, code int, body []byte) *UpgradeError {
	return &UpgradeError{Wire: wire, StatusCode: code, Body: body, Message: status.UpgradeMessage(body)}
}

// NewProtocolMismatch is a 101 on wire that chose a subprotocol that was
// not offered (or none where one was required).
func NewProtocolMismatch(wire protocol.Wire, offered []string, chosen string) *UpgradeError {
	return &UpgradeError{Wire: wire, StatusCode: 101, Offered: offered, Chosen: chosen,
		Message: fmt.Sprintf("%s upgrade: server chose %q, not among %q", wire, chosen, offered)}
}

func (e *UpgradeError) Error() string {
	if e.Message == "" && e.Err != nil {
		return fmt.Sprintf("unable to upgrade connection (%s, %d): %v", e.Wire, e.StatusCode, e.Err)
	}
	return "unable to upgrade connection: " + e.Message
}

func (e *UpgradeError) Unwrap() error { return e.Err }
