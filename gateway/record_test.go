package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/transport/spdy"
)

// replay concatenates the output events of the one recording in dir.
func replay(t *testing.T, dir string) string {
	t.Helper()
	casts, _ := filepath.Glob(filepath.Join(dir, "*.cast"))
	if len(casts) != 1 {
		t.Fatalf("recordings in %s: %v", dir, casts)
	}
	b, err := os.ReadFile(casts[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var out strings.Builder
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 || ev[1] != "o" {
			t.Fatalf("event %q: %v", l, err)
		}
		out.WriteString(ev[2].(string))
	}
	return out.String()
}

// spdyTTYExec runs a tty exec over SPDY v4 with client-go's streams.
func spdyTTYExec(t *testing.T, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: []string{protocol.V4}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var streams []*spdy.Stream
	for _, typ := range []string{"error", "stdout", "resize"} {
		s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
		if err != nil {
			t.Fatalf("open %s: %v", typ, err)
		}
		streams = append(streams, s)
	}
	streams[2].Write(resize.Append(nil, resize.Size{Width: 80, Height: 24}))
	out, st := readAll(streams[1]), readAll(streams[0])
	o := <-out
	if s := <-st; !strings.Contains(string(s), "Success") {
		t.Errorf("status %s", s)
	}
	return string(o)
}

// TestRecordingSameOnEveryWire: a tty session's recording replays to the
// bytes the user saw, whether the gateway spliced WebSocket or SPDY or
// translated WebSocket to SPDY.
func TestRecordingSameOnEveryWire(t *testing.T) {
	node := startNode(t)
	cmd := []string{"sh", "-c", "printf 'héllo\\nwörld 😀'"}
	for _, tc := range []struct {
		name      string
		translate bool
		ws        bool
	}{
		{"websocket-spliced", false, true},
		{"websocket-translated", true, true},
		{"spdy-spliced", false, false},
		{"spdy-translated", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := &gateway.Options{SPDYOnlyUpstream: tc.translate && tc.ws, WebSocketOnlyUpstream: tc.name == "spdy-translated", Recorder: &audit.Recorder{Dir: dir}}
			gw, g := startGateway(t, node, o)
			u := execURL(gw, cmd, "stdout", "tty")
			var out string
			if tc.ws {
				o, _, _ := wsExec(t, u, nil, nil)
				out = string(o)
			} else {
				out = spdyTTYExec(t, u)
			}
			if !strings.Contains(out, "wörld 😀") {
				t.Fatalf("output %q", out)
			}
			// The recording closes when the session ends, just after the
			// client saw the end; Shutdown waits for that.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := g.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if got := replay(t, dir); got != out {
				t.Errorf("recording replays %q, the user saw %q", got, out)
			}
		})
	}
}
