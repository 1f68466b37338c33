package node_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// wsVersions: every version served over WebSocket, the unnamed one included.
var wsVersions = append(append([]protocol.Version(nil), protocol.WebSocketVersions...), protocol.UnnamedWebSocket)

func versionName(v protocol.Version) string {
	if v.Name == "" {
		return "unnamed"
	}
	return v.Name
}

// wsExec runs cmd over WebSocket version v with stdin (nil: not requested)
// and returns stdout, stderr and the error channel's content.
func wsExec(t *testing.T, base string, v protocol.Version, cmd []string, stdin []byte) (out, errOut []byte, st string) {
	t.Helper()
	flags := []string{"stdout", "stderr"}
	if stdin != nil {
		flags = append(flags, "stdin")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, execURL(base, "p", cmd, flags...), &websocket.DialOptions{Versions: []protocol.Version{v}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if got := conn.Protocol(); got != v.Name {
		t.Fatalf("protocol: got %q, want %q", got, v.Name)
	}
	o, e, s := streamtest.ReadAll(conn.Channel(channel.Stdout)), streamtest.ReadAll(conn.Channel(channel.Stderr)), streamtest.ReadAll(conn.Channel(channel.Error))
	if stdin != nil {
		if _, err := conn.Channel(channel.Stdin).Write(stdin); err != nil {
			t.Fatalf("write stdin: %v", err)
		}
		if v.CloseSignal {
			if err := conn.Channel(channel.Stdin).CloseWrite(); err != nil {
				t.Fatalf("close stdin: %v", err)
			}
		}
	}
	out, errOut, stb := <-o, <-e, <-s
	<-conn.Done()
	if err := conn.Err(); err != nil {
		t.Errorf("connection did not end cleanly: %v", err)
	}
	return out, errOut, string(stb)
}

func TestExecOverEveryWebSocketVersion(t *testing.T) {
	base := startNode(t)
	for _, v := range wsVersions {
		t.Run(versionName(v), func(t *testing.T) {
			for _, code := range []int{0, 1, 42, 255} {
				script := "printf out; printf err >&2; exit " + itoa(code)
				out, errOut, st := wsExec(t, base, v, []string{"sh", "-c", script}, nil)
				if string(out) != "out" || string(errOut) != "err" || st != wantStatus(v, code) {
					t.Errorf("exit %d: got out %q err %q status %q, want out err %q", code, out, errOut, st, wantStatus(v, code))
				}
			}
		})
	}
}

func TestStdinCloseSignalV5(t *testing.T) {
	base := startNode(t)
	v, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	in := make([]byte, 3<<20)
	for i := range in {
		in[i] = byte(i * 7)
	}
	out, _, st := wsExec(t, base, v, []string{"cat"}, in)
	if sha256.Sum256(out) != sha256.Sum256(in) || st != wantStatus(v, 0) {
		t.Fatalf("got %d bytes (equal=%v) status %q", len(out), sha256.Sum256(out) == sha256.Sum256(in), st)
	}
}

// spdyExec runs cmd over SPDY version name with the streams client-go opens.
func spdyExec(t *testing.T, base, name string, cmd []string, stdin []byte) (out, errOut, st []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	flags := []string{"stdout", "stderr"}
	if stdin != nil {
		flags = append(flags, "stdin")
	}
	conn, _, err := spdy.Dial(ctx, execURL(base, "p", cmd, flags...), &spdy.DialOptions{Protocols: []string{name}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if conn.Protocol() != name {
		t.Fatalf("protocol: got %q, want %q", conn.Protocol(), name)
	}
	sess, err := conn.OpenSession(ctx, protocol.Want{Stdin: stdin != nil, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatalf("open streams: %v", err)
	}
	return streamtest.RunSession(t, sess, stdin)
}

func TestExecOverEverySPDYVersion(t *testing.T) {
	base := startNode(t)
	for _, v := range protocol.SPDYVersions {
		t.Run(v.Name, func(t *testing.T) {
			for _, code := range []int{0, 3} {
				out, errOut, st := spdyExec(t, base, v.Name, []string{"sh", "-c", "printf out; printf err >&2; exit " + itoa(code)}, nil)
				want := wantStatus(v, code)
				if v.ResetErrorStream {
					want = "" // v1: the error stream is reset at setup, exit codes are lost
				}
				if string(out) != "out" || string(errOut) != "err" || string(st) != want {
					t.Errorf("exit %d: got out %q err %q status %q, want %q", code, out, errOut, st, want)
				}
			}
			if v.ResetErrorStream {
				return // v1 half-closes stdin at once
			}
			in := []byte(strings.Repeat("stdin through cat\n", 100000))
			out, _, st := spdyExec(t, base, v.Name, []string{"cat"}, in)
			if string(out) != string(in) || string(st) != wantStatus(v, 0) {
				t.Errorf("cat: got %d bytes, status %q", len(out), st)
			}
		})
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
