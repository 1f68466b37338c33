package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"
)

// TestOneBigStdinMessage: the official Python and JavaScript clients send
// each stdin write as one WebSocket message. Single messages of 2, 8 and
// 32 MiB (the API server's and kubelet's x/net limit, less the channel
// byte) reach cat through serve whole, even while the node, whose stdin is
// full, probes whether the client is still there; one byte more is refused
// with close 1009, and the output already sent before it stays delivered.
func TestOneBigStdinMessage(t *testing.T) {
	s, _ := startServer(t, Options{KubeconfigPath: filepath.Join(t.TempDir(), "kubeconfig")})
	waitDemo(t, s)
	q := url.Values{"command": {"cat"}, "stdin": {"true"}, "stdout": {"true"}}
	u := strings.Replace(s.URL(), "http", "ws", 1) + "/api/v1/namespaces/default/pods/demo/exec?" + q.Encode()
	for _, tc := range []struct {
		name      string
		size      int
		wantClose bool
	}{
		{"2MiB", 2 << 20, false},
		{"8MiB", 8 << 20, false},
		{"32MiB", 32<<20 - 1, false},
		{"over", 32 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c, _, err := ws.Dial(ctx, u, &ws.DialOptions{Subprotocols: []string{"v5.channel.k8s.io"},
				HTTPHeader: http.Header{"Origin": {s.URL()}}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			c.SetReadLimit(64 << 20)
			small := bytes.Repeat([]byte("a"), 1000)
			payload := make([]byte, tc.size)
			for i := range payload {
				payload[i] = byte(i * 7)
			}
			// Read while writing: cat echoes as the message arrives.
			var out bytes.Buffer
			done := make(chan error, 1)
			wctx, wcancel := context.WithCancelCause(ctx)
			defer wcancel(nil)
			firstEcho := make(chan struct{}) // the small message came back
			go func() {
				echoed := false
				for {
					typ, r, err := c.Reader(ctx)
					if err == nil {
						var b []byte
						if b, err = io.ReadAll(r); err == nil && typ == ws.MessageBinary && len(b) > 0 && b[0] == 1 {
							out.Write(b[1:])
						}
						if !echoed && out.Len() >= len(small) {
							echoed = true
							close(firstEcho)
						}
					}
					if err != nil {
						wcancel(fmt.Errorf("reader ended: %w", err))
						done <- err
						return
					}
				}
			}()
			if err := c.Write(ctx, ws.MessageBinary, append([]byte{0}, small...)); err != nil {
				t.Fatal(err)
			}
			if tc.wantClose {
				// What came back before the refused message must stay: wait
				// for it, so that the check below is about the close and
				// not about how fast cat echoes.
				select {
				case <-firstEcho:
				case <-ctx.Done():
					t.Fatal("the small message never came back")
				}
			}
			if err := c.Write(wctx, ws.MessageBinary, append([]byte{0}, payload...)); err != nil && !tc.wantClose {
				t.Fatalf("%v (%v)", err, context.Cause(wctx))
			}
			if !tc.wantClose {
				c.Write(ctx, ws.MessageBinary, []byte{255, 0}) // v5: close stdin
			}
			end := <-done
			want := append(append([]byte(nil), small...), payload...)
			switch {
			case tc.wantClose:
				if ws.CloseStatus(end) != ws.StatusMessageTooBig {
					t.Errorf("over the limit: ended with %v, want close 1009", end)
				}
				if !bytes.Equal(out.Bytes(), small) {
					t.Errorf("over the limit: %d bytes came back, want exactly the %d echoed before it", out.Len(), len(small))
				}
			case sha256.Sum256(out.Bytes()) != sha256.Sum256(want):
				t.Errorf("%d bytes back (%v), want %d", out.Len(), end, len(want))
			}
		})
	}
}
