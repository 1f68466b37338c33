package protocol

import (
	"context"
	"regexp"
	"time"
)

// EarlyMessageHold is how long a server holds a WebSocket session of a
// client that DropsEarlyMessages before anything is sent to it.
const EarlyMessageHold = 50 * time.Millisecond

// racyUserAgent matches kubectl 1.29 to 1.33, whose WebSocket executor
// (client-go before kubernetes/kubernetes#131203, first in 1.34.0; every
// 1.33 patch release still has the race) starts reading the connection
// before it has created its streams and drops any message that arrives in
// between: the "connected" message and a quick command's output and status
// are lost ("Unknown stream id 1, discarding message", then "error: closed
// all streams", exit 1). A real kubelet is rarely this fast (a container
// exec takes tens of milliseconds); a local process is, and so is a notice
// the gateway sends at once (a moderated session's). client-go names the
// program after its binary, so kubectl installed under another name
// (kubectl.1.31 in Google Cloud SDK's packaging, kubectl-1.30) says so
// before the slash.
var racyUserAgent = regexp.MustCompile(`^kubectl[^/ ]*/v1\.(29|30|31|32|33)\.`)

// DropsEarlyMessages reports whether the client of this User-Agent loses
// WebSocket messages sent right after the upgrade, so the server should
// wait EarlyMessageHold before sending any.
func DropsEarlyMessages(userAgent string) bool { return racyUserAgent.MatchString(userAgent) }

// HoldEarlyMessages waits EarlyMessageHold, or until ctx ends. Servers call
// it right after the upgrade, before the first message to such a client.
func HoldEarlyMessages(ctx context.Context) {
	t := time.NewTimer(EarlyMessageHold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
