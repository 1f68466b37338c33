package node

import (
	"context"
	"regexp"
	"time"
)

// racyHold is how long a session of a client with client-go's stream
// creation race waits before its process starts (see racyClient).
const racyHold = 50 * time.Millisecond

// racyUserAgent matches kubectl 1.29 to 1.32, whose WebSocket executor
// (client-go before kubernetes/kubernetes#131203) starts reading the
// connection before it has created its streams and drops any message
// that arrives in between: the "connected" message and a quick command's
// output and status are lost ("Unknown stream id 1, discarding message",
// then "error: closed all streams", exit 1). A real kubelet is rarely this
// fast (a container exec takes tens of milliseconds); a local process is.
var racyUserAgent = regexp.MustCompile(`^kubectl/v1\.(29|30|31|32)\.`)

// racyClient reports whether a WebSocket session for this User-Agent
// should start its process only after racyHold.
func racyClient(userAgent string) bool { return racyUserAgent.MatchString(userAgent) }

// holdFor waits until d after start, or until ctx ends.
func holdFor(ctx context.Context, start time.Time, d time.Duration) {
	wait := time.Until(start.Add(d))
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
