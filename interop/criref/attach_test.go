package criref

import (
	"bytes"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// watcher is an output sink that signals once it has seen want.
type watcher struct {
	want string
	seen chan struct{}

	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func newWatcher(want string) *watcher { return &watcher{want: want, seen: make(chan struct{})} }

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.want) {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestAttach joins a running container's stdio over WS v5 (translator) and
// SPDY (one-time CRI URL): a line on stdin comes back on stdout and stderr,
// and the end of stdin ends the session with success.
func TestAttach(t *testing.T) {
	const id = "default/att/main"
	s := startServer(t, &Options{Containers: []Container{{
		ID:      id,
		Command: []string{"sh", "-c", `while read l; do echo "got $l"; echo "err $l" >&2; done`},
		Stdin:   true,
	}}})
	attachers := []struct {
		name string
		exec func(t *testing.T) remotecommand.Executor
	}{
		{"websocket-v5-translator", func(t *testing.T) remotecommand.Executor {
			u := s.URL() + "/api/v1/namespaces/default/pods/att/attach?stdin=true&stdout=true&stderr=true"
			e, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: s.URL()}, "GET", u)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}},
		{"spdy-cri-direct", func(t *testing.T) remotecommand.Executor {
			raw, err := s.AttachURL(&runtimeapi.AttachRequest{ContainerId: id, Stdin: true, Stdout: true, Stderr: true})
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			e, err := remotecommand.NewSPDYExecutor(&rest.Config{Host: s.URL()}, "POST", u)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}},
	}
	for _, a := range attachers {
		t.Run(a.name, func(t *testing.T) {
			line := "hello " + a.name
			stdinR, stdinW := io.Pipe()
			stdout, stderr := newWatcher("got "+line+"\n"), newWatcher("err "+line+"\n")
			errc := make(chan error, 1)
			go func() {
				errc <- a.exec(t).StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdin: stdinR, Stdout: stdout, Stderr: stderr})
			}()
			if _, err := io.WriteString(stdinW, line+"\n"); err != nil {
				t.Fatal(err)
			}
			<-stdout.seen
			<-stderr.seen
			_ = stdinW.Close()
			if err := <-errc; err != nil {
				t.Fatalf("attach: %v", err)
			}
			if got, want := stdout.String(), "got "+line+"\n"; got != want {
				t.Errorf("stdout: got %q, want %q", got, want)
			}
		})
	}
}

// TestAttachUnknownContainer: the runtime's refusal arrives as a failure
// status, not an exit code.
func TestAttachUnknownContainer(t *testing.T) {
	s := startServer(t, nil)
	u := s.URL() + "/api/v1/namespaces/default/pods/nope/attach?stdout=true"
	e, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: s.URL()}, "GET", u)
	if err != nil {
		t.Fatal(err)
	}
	err = e.StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), `container "default/nope/main" not found`) {
		t.Fatalf("got %v, want the not-found error", err)
	}
}

// TestAttachTTYResize: an attach session to a tty container resizes its
// terminal (the container waits for the size), then sees its output with
// the terminal's CRLF, and ends with success when its stdin ends.
func TestAttachTTYResize(t *testing.T) {
	const id = "default/tty/main"
	script := `until [ "$(stty size)" = "45 123" ]; do sleep 0.01; done; echo sized; exec cat`
	s := startServer(t, &Options{Containers: []Container{{ID: id, Command: []string{"sh", "-c", script}, TTY: true, Stdin: true}}})
	u := s.URL() + "/api/v1/namespaces/default/pods/tty/attach?stdin=true&stdout=true&tty=true"
	e, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: s.URL()}, "GET", u)
	if err != nil {
		t.Fatal(err)
	}
	sizes := make(chan remotecommand.TerminalSize, 1)
	sizes <- remotecommand.TerminalSize{Width: 123, Height: 45}
	close(sizes)
	stdinR, stdinW := io.Pipe()
	stdout := newWatcher("sized\r\n")
	errc := make(chan error, 1)
	go func() {
		errc <- e.StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdin: stdinR, Stdout: stdout, Tty: true, TerminalSizeQueue: sizeQueue{sizes}})
	}()
	<-stdout.seen
	_ = stdinW.Close()
	if err := <-errc; err != nil {
		t.Fatalf("attach: %v", err)
	}
	if got, want := stdout.String(), "sized\r\n"; got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
}
