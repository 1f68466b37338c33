package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
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
	out, st := streamtest.ReadAll(streams[1]), streamtest.ReadAll(streams[0])
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
		name     string
		upstream protocol.Wire
		ws       bool
	}{
		{"websocket-spliced", "", true},
		{"websocket-translated", protocol.SPDY, true},
		{"spdy-spliced", "", false},
		{"spdy-translated", protocol.WebSocket, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := &gateway.Options{UpstreamWire: tc.upstream, Recorder: &audit.Recorder{Dir: dir}}
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
			// The header describes the session for the recordings list
			// (no container named: the request had none).
			casts, _ := filepath.Glob(filepath.Join(dir, "*.cast"))
			b, _ := os.ReadFile(casts[0])
			var h audit.Header
			if err := json.Unmarshal([]byte(strings.SplitN(string(b), "\n", 2)[0]), &h); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{audit.NamespaceEnv: "default", audit.PodEnv: "p", audit.VerbEnv: "exec",
				audit.CommandEnv: strings.Join(cmd, " "), audit.OwnerEnv: "system:anonymous"}
			if !reflect.DeepEqual(h.Env, want) {
				t.Errorf("header env %v, want %v", h.Env, want)
			}
		})
	}
}

// TestRecordingKeepsSizes: the cast header carries the terminal size the
// client gave first, and a later resize is a resize event, whether the
// gateway spliced WebSocket or SPDY or translated either way.
func TestRecordingKeepsSizes(t *testing.T) {
	node := startNode(t)
	// The shell says when the terminal has the second size: by then the
	// gateway has recorded both (it records a size before passing it on),
	// and only then does the client type, so no output (not even the
	// echo) can precede the first size.
	cmd := []string{"sh", "-c", `until [ "$(stty size)" = "30 100" ]; do sleep 0.02; done; echo sized; read x; stty size`}
	first, second := resize.Size{Width: 120, Height: 40}, resize.Size{Width: 100, Height: 30}
	for _, tc := range []struct {
		name string
		ws   bool
		o    gateway.Options
	}{
		{"websocket-spliced", true, gateway.Options{}},
		{"websocket-translated", true, gateway.Options{UpstreamWire: protocol.SPDY}},
		{"spdy-spliced", false, gateway.Options{}},
		{"spdy-translated", false, gateway.Options{UpstreamWire: protocol.WebSocket}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := tc.o
			o.Recorder = &audit.Recorder{Dir: dir}
			gw, g := startGateway(t, node, &o)
			u := execURL(gw, cmd, "stdin", "stdout", "tty")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out []byte
			if tc.ws {
				conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Versions: protocol.WebSocketVersions})
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				o, sized := readUntil(conn.Channel(channel.Stdout), "sized")
				s := streamtest.ReadAll(conn.Channel(channel.Error))
				for _, sz := range []resize.Size{first, second} {
					conn.Channel(channel.Resize).Write(resize.Append(nil, sz))
				}
				<-sized
				conn.Channel(channel.Stdin).Write([]byte("go\n"))
				out = <-o
				<-s
			} else {
				conn, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: []string{protocol.V4}})
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				var streams []*spdy.Stream
				for _, typ := range []string{"error", "stdin", "stdout", "resize"} {
					s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
					if err != nil {
						t.Fatalf("open %s: %v", typ, err)
					}
					streams = append(streams, s)
				}
				o, sized := readUntil(streams[2], "sized")
				s := streamtest.ReadAll(streams[0])
				for _, sz := range []resize.Size{first, second} {
					streams[3].Write(resize.Append(nil, sz))
				}
				<-sized
				streams[1].Write([]byte("go\n"))
				out = <-o
				<-s
			}
			if !strings.Contains(string(out), "30 100") {
				t.Fatalf("output %q, want stty's 30 100", out)
			}
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			if err := g.Shutdown(sctx); err != nil {
				t.Fatal(err)
			}
			casts, _ := filepath.Glob(filepath.Join(dir, "*.cast"))
			if len(casts) != 1 {
				t.Fatalf("recordings: %v", casts)
			}
			b, err := os.ReadFile(casts[0])
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			var hdr audit.Header
			if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil || hdr.Width != 120 || hdr.Height != 40 {
				t.Errorf("header %s (%v), want 120x40", lines[0], err)
			}
			var resizes []string
			for _, l := range lines[1:] {
				var ev []any
				if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
					t.Fatalf("event %q: %v", l, err)
				}
				if ev[1] == "r" {
					resizes = append(resizes, ev[2].(string))
				}
			}
			if len(resizes) != 1 || resizes[0] != "100x30" {
				t.Errorf("resize events %q, want [100x30]", resizes)
			}
		})
	}
}

// readUntil reads r to its end like readAll, and closes the second
// channel once the bytes read contain marker (or at the end).
func readUntil(r io.Reader, marker string) (<-chan []byte, <-chan struct{}) {
	all, seen := make(chan []byte, 1), make(chan struct{})
	go func() {
		var b []byte
		buf := make([]byte, 4096)
		found := false
		for {
			n, err := r.Read(buf)
			b = append(b, buf[:n]...)
			if !found && strings.Contains(string(b), marker) {
				found = true
				close(seen)
			}
			if err != nil {
				break
			}
		}
		if !found {
			close(seen)
		}
		all <- b
	}()
	return all, seen
}
