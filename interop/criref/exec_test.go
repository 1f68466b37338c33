package criref

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// wire is one way client-go reaches the reference node.
type wire struct {
	name string
	// executor returns a client-go executor for one exec.
	executor func(t *testing.T, s *Server, req *runtimeapi.ExecRequest) remotecommand.Executor
}

// wires: WebSocket v5 through the kubelet front's translator, SPDY through
// the front's raw proxy, and SPDY straight at a one-time CRI URL.
var wires = []wire{
	{"websocket-v5-translator", func(t *testing.T, s *Server, req *runtimeapi.ExecRequest) remotecommand.Executor {
		e, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: s.URL()}, "GET", frontExecURL(s, req))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}},
	{"spdy-front-proxy", func(t *testing.T, s *Server, req *runtimeapi.ExecRequest) remotecommand.Executor {
		return spdyExecutor(t, s, frontExecURL(s, req))
	}},
	{"spdy-cri-direct", func(t *testing.T, s *Server, req *runtimeapi.ExecRequest) remotecommand.Executor {
		u, err := s.ExecURL(req)
		if err != nil {
			t.Fatal(err)
		}
		return spdyExecutor(t, s, u)
	}},
}

func spdyExecutor(t *testing.T, s *Server, raw string) remotecommand.Executor {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	e, err := remotecommand.NewSPDYExecutor(&rest.Config{Host: s.URL()}, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// frontExecURL is the API-server style URL for req at the front.
func frontExecURL(s *Server, req *runtimeapi.ExecRequest) string {
	q := url.Values{"command": req.Cmd}
	for name, on := range map[string]bool{"stdin": req.Stdin, "stdout": req.Stdout, "stderr": req.Stderr, "tty": req.Tty} {
		if on {
			q.Set(name, "true")
		}
	}
	return s.URL() + "/api/v1/namespaces/default/pods/ref/exec?" + q.Encode()
}

func startServer(t *testing.T, opts *Options) *Server {
	t.Helper()
	s, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func execReq(cmd ...string) *runtimeapi.ExecRequest {
	return &runtimeapi.ExecRequest{ContainerId: "default/ref/main", Cmd: cmd, Stdout: true, Stderr: true}
}

// TestExecStdinRoundTrip sends 3 MiB of random bytes through cat and
// checks every byte came back, on every wire.
func TestExecStdinRoundTrip(t *testing.T) {
	s := startServer(t, nil)
	payload := make([]byte, 3<<20+17)
	_, _ = rand.Read(payload)
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			req := execReq("cat")
			req.Stdin = true
			var stdout, stderr bytes.Buffer
			err := w.executor(t, s, req).StreamWithContext(t.Context(), remotecommand.StreamOptions{
				Stdin: bytes.NewReader(payload), Stdout: &stdout, Stderr: &stderr,
			})
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if got, want := sha256.Sum256(stdout.Bytes()), sha256.Sum256(payload); got != want {
				t.Errorf("stdout: got %d bytes (sha256 %x), want %d bytes (sha256 %x)", stdout.Len(), got[:6], len(payload), want[:6])
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: got %q, want nothing", stderr.String())
			}
		})
	}
}

// TestExecExitCodes checks stdout, stderr and the exit code of a command
// that fails, for several codes, on every wire.
func TestExecExitCodes(t *testing.T) {
	s := startServer(t, nil)
	for _, w := range wires {
		for _, code := range []int{0, 1, 3, 255} {
			t.Run(fmt.Sprintf("%s/exit-%d", w.name, code), func(t *testing.T) {
				script := fmt.Sprintf("printf 'out %d'; printf 'err %d' >&2; exit %d", code, code, code)
				var stdout, stderr bytes.Buffer
				err := w.executor(t, s, execReq("sh", "-c", script)).StreamWithContext(t.Context(), remotecommand.StreamOptions{
					Stdout: &stdout, Stderr: &stderr,
				})
				if got, want := stdout.String(), fmt.Sprintf("out %d", code); got != want {
					t.Errorf("stdout: got %q, want %q", got, want)
				}
				if got, want := stderr.String(), fmt.Sprintf("err %d", code); got != want {
					t.Errorf("stderr: got %q, want %q", got, want)
				}
				checkExit(t, err, code)
			})
		}
	}
}

func checkExit(t *testing.T, err error, code int) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("got error %v, want success", err)
		}
		return
	}
	var ee exec.CodeExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got error %v (%T), want exit code %d", err, err, code)
	}
	if ee.Code != code {
		t.Errorf("exit code: got %d, want %d", ee.Code, code)
	}
}

// TestExecSignalExit: a process killed by SIGKILL reports 137.
func TestExecSignalExit(t *testing.T) {
	s := startServer(t, nil)
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			err := w.executor(t, s, execReq("sh", "-c", "kill -9 $$")).StreamWithContext(t.Context(), remotecommand.StreamOptions{
				Stdout: io.Discard, Stderr: io.Discard,
			})
			checkExit(t, err, 137)
		})
	}
}

// TestExecNotFound: a command that cannot start is an error but not an
// exit code.
func TestExecNotFound(t *testing.T) {
	s := startServer(t, nil)
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			err := w.executor(t, s, execReq("/nonexistent/criref-test")).StreamWithContext(t.Context(), remotecommand.StreamOptions{
				Stdout: io.Discard, Stderr: io.Discard,
			})
			var ee exec.CodeExitError
			if err == nil || errors.As(err, &ee) {
				t.Fatalf("got %v, want a non-exit error", err)
			}
			if !strings.Contains(err.Error(), "/nonexistent/criref-test") {
				t.Errorf("error %q does not name the command", err)
			}
		})
	}
}

// sizeQueue hands out fixed terminal sizes, then ends.
type sizeQueue struct {
	sizes chan remotecommand.TerminalSize
}

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q.sizes
	if !ok {
		return nil
	}
	return &s
}

// TestExecTTYResize: the pty takes the size the client sends (the command
// waits for it, as the resize travels apart from the exec), and stdout
// carries the terminal's CRLF.
func TestExecTTYResize(t *testing.T) {
	s := startServer(t, nil)
	script := `until [ "$(stty size)" = "45 123" ]; do sleep 0.01; done; stty size`
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			req := &runtimeapi.ExecRequest{ContainerId: "default/ref/main", Cmd: []string{"sh", "-c", script}, Stdout: true, Tty: true}
			sizes := make(chan remotecommand.TerminalSize, 1)
			sizes <- remotecommand.TerminalSize{Width: 123, Height: 45}
			close(sizes)
			var stdout bytes.Buffer
			err := w.executor(t, s, req).StreamWithContext(t.Context(), remotecommand.StreamOptions{
				Stdout: &stdout, Tty: true, TerminalSizeQueue: sizeQueue{sizes},
			})
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if got, want := stdout.String(), "45 123\r\n"; got != want {
				t.Errorf("stdout: got %q, want %q", got, want)
			}
		})
	}
}

// TestExecEndsWithStdinOpen: the session ends when the process exits, even
// though the client never ends stdin (as with a container runtime).
func TestExecEndsWithStdinOpen(t *testing.T) {
	s := startServer(t, nil)
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			req := execReq("sh", "-c", "echo bye; exit 2")
			req.Stdin = true
			stdinR, stdinW := io.Pipe()
			defer stdinW.Close()
			var stdout bytes.Buffer
			err := w.executor(t, s, req).StreamWithContext(t.Context(), remotecommand.StreamOptions{
				Stdin: stdinR, Stdout: &stdout, Stderr: io.Discard,
			})
			checkExit(t, err, 2)
			if got := stdout.String(); got != "bye\n" {
				t.Errorf("stdout: got %q, want %q", got, "bye\n")
			}
		})
	}
}
