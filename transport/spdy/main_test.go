package spdy

import (
	"testing"

	"go.uber.org/goleak"
)

// spdystream's reader, workers and shutdown are joined by Conn.Close; its
// small helpers (queue drains, the idle monitor's channel drains) end right
// after its reader does, so goleak's retries see them go.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
