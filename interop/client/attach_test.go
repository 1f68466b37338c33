package client

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/interop/criref"
	"github.com/porthole/porthole/interop/internal/harness"
)

// seenWriter signals once its output contains want.
type seenWriter struct {
	want string
	seen chan struct{}
	mu   sync.Mutex
	buf  strings.Builder
	done bool
}

func (w *seenWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.want) {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}

// TestLibraryAttach: a line on stdin reaches the container's process and
// its answer comes back. The CRI library ends an attach session when the
// client's stdin ends; porthole's node keeps it (the container's stdin
// stays open, as without stdinOnce), so there the session is cancelled.
func TestLibraryAttach(t *testing.T) {
	const id = "default/att/main"
	s, err := criref.Start(context.Background(), &criref.Options{Containers: []criref.Container{{
		ID: id, Command: []string{"sh", "-c", `while read l; do echo "got $l"; done`}, Stdin: true,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name    string
		cfg     func(t *testing.T) *client.Config
		opts    client.AttachOptions
		want    string
		eofEnds bool
		wire    client.Wire
	}{
		{"porthole-serve", servedConfig, client.AttachOptions{Pod: harness.PodCat, Container: harness.ContainerMain}, "hello\n", false, client.WireWebSocket},
		{"apiserver-translator", func(*testing.T) *client.Config { return &client.Config{Host: s.URL()} },
			client.AttachOptions{Namespace: "default", Pod: "att", Container: "main"}, "got hello\n", true, client.WireWebSocket},
		{"apiserver-spdy-proxy", func(*testing.T) *client.Config { return &client.Config{Host: s.URL(), Wire: client.WireSPDY} },
			client.AttachOptions{Namespace: "default", Pod: "att", Container: "main"}, "got hello\n", true, client.WireSPDY},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(sessionCtx(t))
			defer cancel()
			pr, pw := io.Pipe()
			defer pw.Close()
			out := &seenWriter{want: tc.want, seen: make(chan struct{})}
			o := tc.opts
			o.StreamOptions = client.StreamOptions{Stdin: pr, Stdout: out, Stderr: io.Discard}
			errc := make(chan error, 1)
			go func() {
				errc <- run(t, tc.cfg(t), tc.wire, false, func(c *client.Client) error { return c.Attach(ctx, &o) })
			}()
			if _, err := io.WriteString(pw, "hello\n"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-out.seen:
			case err := <-errc:
				t.Fatalf("attach ended before the echo: %v", err)
			}
			_ = pw.Close()
			if !tc.eofEnds {
				cancel()
			}
			err := <-errc
			switch {
			case tc.eofEnds && err != nil:
				t.Errorf("got %v, want the session to end cleanly with stdin", err)
			case !tc.eofEnds && !errors.Is(err, context.Canceled):
				t.Errorf("got %v, want context.Canceled", err)
			}
		})
	}
}
