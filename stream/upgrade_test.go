package stream

import (
	"errors"
	"fmt"
	"testing"

	"github.com/porthole/porthole/protocol"
)

// TestUpgradeErrorWords: a refusal says what client-go says; a mismatch
// names the choice; errors.As finds the error through wrapping.
func TestUpgradeErrorWords(t *testing.T) {
	for _, tc := range []struct {
		err  *UpgradeError
		want string
	}{
		{NewUpgradeRefusal(protocol.SPDY, 403, []byte(`{"kind":"Status","message":"pods \"p\" is forbidden"}`)), `unable to upgrade connection: pods "p" is forbidden`},
		{NewUpgradeRefusal(protocol.WebSocket, 403, nil), "unable to upgrade connection: empty server response"},
		{NewUpgradeRefusal(protocol.WebSocket, 502, []byte(" bad gateway\n")), "unable to upgrade connection: bad gateway"},
		{NewProtocolMismatch(protocol.WebSocket, []string{protocol.V5}, protocol.V4), `unable to upgrade connection: websocket upgrade: server chose "v4.channel.k8s.io", not among ["v5.channel.k8s.io"]`},
		{&UpgradeError{Wire: protocol.WebSocket, StatusCode: 101, Err: errors.New("bad accept")}, "unable to upgrade connection (websocket, 101): bad accept"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
		var ue *UpgradeError
		if !errors.As(fmt.Errorf("dial: %w", tc.err), &ue) || ue != tc.err {
			t.Errorf("errors.As did not find %v", tc.err)
		}
	}
}
