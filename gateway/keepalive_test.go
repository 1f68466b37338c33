package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/porthole/porthole/gateway"
)

// TestKeepAlivePings: a spliced session that sends nothing for a while
// gets the gateway's pings (WebSocket ping, SPDY PING) between the
// upstream's frames; the clients answer them (the gateway keeps the
// answers, see TestKeepAliveAnswersStayAtTheGateway) and the session's
// bytes and status are untouched.
func TestKeepAlivePings(t *testing.T) {
	node := startNode(t)
	cmd := []string{"sh", "-c", "sleep 1; echo after-the-quiet"}
	for _, wire := range []string{"websocket", "spdy"} {
		t.Run(wire, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			base, _ := startGateway(t, node, &gateway.Options{KeepAlive: 50 * time.Millisecond, Registerer: reg})
			u := execURL(base, cmd, "stdout", "stderr")
			var out, st string
			if wire == "websocket" {
				o, _, s := wsExec(t, u, nil, nil)
				out, st = string(o), s
			} else {
				o, _, s := spdyExec(t, u, nil, nil)
				out, st = string(o), string(s)
			}
			if out != "after-the-quiet\n" {
				t.Errorf("stdout %q", out)
			}
			if !strings.Contains(st, `"status":"Success"`) {
				t.Errorf("status %q", st)
			}
			if n := metricValue(t, reg, "porthole_gateway_keepalive_pings_total", nil); n < 5 {
				t.Errorf("%v keep-alive pings in a quiet second at 50 ms, want at least 5", n)
			}
		})
	}
}
