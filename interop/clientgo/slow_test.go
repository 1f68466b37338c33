package clientgo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/porthole/porthole/interop/internal/harness"
)

// slowSize is what the slow reader consumes: at 1 MiB/s it takes longer
// than client-go's 5 s WebSocket ping period, so pings and pongs must flow
// while the server is blocked on a full socket.
const slowSize = 6 * harness.MiB

// slowWriter accepts 64 KiB of credit per tick (16 ticks a second:
// 1 MiB/s), hashing what it got. The ticker paces a consumer; it orders
// nothing.
type slowWriter struct {
	h      *harness.HashWriter
	tick   *time.Ticker
	credit int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if w.credit == 0 {
			<-w.tick.C
			w.credit = 64 << 10
		}
		c := min(w.credit, len(p)-n)
		_, _ = w.h.Write(p[n : n+c])
		w.credit -= c
		n += c
	}
	return n, nil
}

// prefixSum is the SHA-256 of the first n bytes of the data file.
func prefixSum(t *testing.T, n int64) string {
	t.Helper()
	f, err := os.Open(env.Data.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, f, n); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestSlowReader: a client that drains stdout at 1 MiB/s gets every byte
// and a Success status, on WebSocket (with heartbeats running) and SPDY.
func TestSlowReader(t *testing.T) {
	want := prefixSum(t, slowSize)
	for _, x := range executors() {
		if x.name != "websocket" && x.name != "spdy" {
			continue
		}
		t.Run(x.name, func(t *testing.T) {
			t.Parallel()
			u := streamURL(t, "exec", harness.PodExec, "", false, true, true, false,
				"head", "-c", fmt.Sprint(slowSize), env.Data.Path)
			w := &slowWriter{h: harness.NewHashWriter(), tick: time.NewTicker(time.Second / 16)}
			defer w.tick.Stop()
			if err := stream(t, x.make(t, u), remotecommand.StreamOptions{Stdout: w, Stderr: io.Discard}); err != nil {
				t.Fatalf("stream: got %v, want success", err)
			}
			if w.h.Len() != slowSize || w.h.Sum() != want {
				t.Errorf("stdout: got %d bytes sha256 %s, want %d bytes sha256 %s", w.h.Len(), w.h.Sum(), slowSize, want)
			}
		})
	}
}
