package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/interop/internal/harness"
)

// zeros reads zero bytes without end.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestCLIStdinWhileTheProcessSleeps: porthole exec -i sends 64 MiB, far
// more than the pipes and sockets on the way hold, to a process that reads
// nothing for 12 s. The writes stall, so pings cannot get through: the
// session must wait, not end, and the process gets every byte. Without
// resume (serve's in-process node) and with it (the gateway's own
// WebSocket client to the node stalls too). It failed after 10 s: the
// ping's turn behind the stalled write timed out.
func TestCLIStdinWhileTheProcessSleeps(t *testing.T) {
	const size = 64 << 20
	sum := sha256.New()
	if _, err := io.Copy(sum, io.LimitReader(zeros{}, size)); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(sum.Sum(nil)) + "  -\n"
	for _, tc := range []struct {
		name string
		args []string
	}{{"resumable", nil}, {"plain", []string{"--resume-timeout=0"}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			var out bytes.Buffer
			args := append(append([]string{"exec", "-i"}, tc.args...), harness.PodExec, "--", "sh", "-c", "sleep 12; sha256sum")
			code, stderr := c.run(t, nil, io.LimitReader(zeros{}, size), &out, args...)
			if code != 0 || out.String() != want {
				t.Fatalf("exit %d, stdout %q (want %q), stderr %q", code, out.String(), want, stderr)
			}
		})
	}
}

// TestLibraryStdinWhileTheProcessSleeps: the same stall against every peer
// the library talks to (the kubelet's CRI library over SPDY, its WebSocket
// front, the API server's translator and its SPDY proxy, and serve): 64 MiB
// of stdin to a process that reads nothing for 12 s arrive whole.
func TestLibraryStdinWhileTheProcessSleeps(t *testing.T) {
	const size = 64 << 20
	sum := sha256.New()
	if _, err := io.Copy(sum, io.LimitReader(zeros{}, size)); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(sum.Sum(nil)) + "  -\n"
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := tg.exec(t, sessionCtx(t), []string{"sh", "-c", "sleep 12; sha256sum"},
				client.StreamOptions{Stdin: io.LimitReader(zeros{}, size), Stdout: &out, Stderr: io.Discard})
			if err != nil || out.String() != want {
				t.Fatalf("exec: %v; stdout %q, want %q", err, out.String(), want)
			}
		})
	}
}
