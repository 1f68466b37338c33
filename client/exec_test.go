package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/protocol/status"
)

var wires = []Wire{WireWebSocket, WireSPDY}

func execCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), execWait)
	t.Cleanup(cancel)
	return ctx
}

func TestExecOutputAndExitCodes(t *testing.T) {
	c, _ := startExecNode(t, false, false, Config{})
	for _, wire := range wires {
		t.Run(string(wire), func(t *testing.T) {
			for _, code := range []int{0, 1, 42, 255} {
				var out, errOut bytes.Buffer
				err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Container: "c",
					Command:       []string{"sh", "-c", "echo out; echo err >&2; exit " + itoa(code)},
					StreamOptions: StreamOptions{Stdout: &out, Stderr: &errOut, Wire: wire}})
				var ee *ExitError
				switch {
				case code == 0 && err != nil:
					t.Errorf("exit 0: got %v", err)
				case code != 0 && (!errors.As(err, &ee) || ee.Code != code):
					t.Errorf("exit %d: got %v, want *ExitError{%d}", code, err, code)
				}
				if out.String() != "out\n" || errOut.String() != "err\n" {
					t.Errorf("exit %d: stdout %q stderr %q, want \"out\\n\" \"err\\n\"", code, out.String(), errOut.String())
				}
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestExecStdinEOF(t *testing.T) {
	c, _ := startExecNode(t, false, false, Config{})
	in := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	want := sha256.Sum256(in)
	for _, wire := range wires {
		t.Run(string(wire), func(t *testing.T) {
			h := sha256.New()
			err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"cat"},
				StreamOptions: StreamOptions{Stdin: bytes.NewReader(in), Stdout: h, Stderr: io.Discard, Wire: wire}})
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Errorf("sha256 %x, want %x", got, want)
			}
		})
	}
}

func TestExecTTYSize(t *testing.T) {
	c, _ := startExecNode(t, false, false, Config{})
	for _, wire := range wires {
		t.Run(string(wire), func(t *testing.T) {
			sizes := make(chan resize.Size, 1)
			sizes <- resize.Size{Width: 123, Height: 45}
			var out bytes.Buffer
			err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"stty", "size"},
				StreamOptions: StreamOptions{Stdout: &out, TTY: true, Sizes: sizes, Wire: wire}})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out.String()); got != "45 123" {
				t.Errorf("stty size %q, want \"45 123\"", got)
			}
		})
	}
}

func TestExecFallback(t *testing.T) {
	t.Run("empty 403 falls back to spdy", func(t *testing.T) {
		c, n := startExecNode(t, true, false, Config{})
		var out bytes.Buffer
		if err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"echo", "hi"}, StreamOptions: StreamOptions{Stdout: &out}}); err != nil {
			t.Fatal(err)
		}
		if out.String() != "hi\n" || n.ws.Load() != 1 || n.spdy.Load() != 1 {
			t.Errorf("got %q, ws %d spdy %d; want \"hi\\n\", 1, 1", out.String(), n.ws.Load(), n.spdy.Load())
		}
	})
	t.Run("websocket success does not touch spdy", func(t *testing.T) {
		c, n := startExecNode(t, false, false, Config{})
		if err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard}}); err != nil {
			t.Fatal(err)
		}
		if n.ws.Load() != 1 || n.spdy.Load() != 0 {
			t.Errorf("ws %d spdy %d, want 1, 0", n.ws.Load(), n.spdy.Load())
		}
	})
	t.Run("websocket only does not fall back", func(t *testing.T) {
		c, n := startExecNode(t, true, false, Config{Wire: WireWebSocket})
		err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard}})
		var ue *UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != http.StatusForbidden || n.spdy.Load() != 0 {
			t.Errorf("got %v (spdy %d), want *UpgradeError 403 and no spdy attempt", err, n.spdy.Load())
		}
	})
	t.Run("both refused reports the spdy refusal", func(t *testing.T) {
		c, _ := startExecNode(t, true, true, Config{})
		err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard}})
		var ue *UpgradeError
		if !errors.As(err, &ue) || ue.Wire != WireSPDY || ue.StatusCode != 403 || ue.Message != `pods "p" is forbidden` {
			t.Errorf("got %#v, want the spdy 403 with its Status message", err)
		}
	})
	t.Run("network error does not fall back", func(t *testing.T) {
		c, err := New(&Config{Host: "http://127.0.0.1:1"})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard}})
		if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "spdy") {
			t.Errorf("got %v, want the websocket dial's connection refused", err)
		}
	})
}

func TestExecServerError(t *testing.T) {
	c, _ := startExecNode(t, false, false, Config{})
	for _, wire := range wires {
		t.Run(string(wire), func(t *testing.T) {
			err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Container: "nope", Command: []string{"true"},
				StreamOptions: StreamOptions{Stdout: io.Discard, Wire: wire}})
			var ue *UpgradeError
			var se *status.Error
			if !errors.As(err, &ue) && !errors.As(err, &se) {
				t.Errorf("got %v, want a refusal naming the container", err)
			}
		})
	}
}

func TestExecThroughConnectProxy(t *testing.T) {
	p := startConnectProxy(t)
	pu, _ := url.Parse("http://" + p.ln.Addr().String())
	c, _ := startExecNode(t, false, false, Config{Proxy: http.ProxyURL(pu)})
	for i, wire := range wires {
		t.Run(string(wire), func(t *testing.T) {
			var out bytes.Buffer
			if err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"echo", "via proxy"},
				StreamOptions: StreamOptions{Stdout: &out, Wire: wire}}); err != nil {
				t.Fatal(err)
			}
			if out.String() != "via proxy\n" || int(p.tunnels.Load()) != i+1 {
				t.Errorf("got %q after %d tunnels, want \"via proxy\\n\" after %d", out.String(), p.tunnels.Load(), i+1)
			}
		})
	}
}

// TestExecThroughSOCKSProxy: a socks5:// proxy (as client-go allows in
// proxy-url) carries every wire, with its user and password; a wrong
// password is an error that names the proxy, not a fallback.
func TestExecThroughSOCKSProxy(t *testing.T) {
	p := startSOCKSProxy(t)
	pu, _ := url.Parse("socks5://u:p@" + p.ln.Addr().String())
	c, _ := startExecNode(t, false, false, Config{Proxy: http.ProxyURL(pu)})
	for i, wire := range wires {
		t.Run(string(wire), func(t *testing.T) {
			var out bytes.Buffer
			if err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"echo", "via socks"},
				StreamOptions: StreamOptions{Stdout: &out, Wire: wire}}); err != nil {
				t.Fatal(err)
			}
			p.mu.Lock()
			n := len(p.asked)
			p.mu.Unlock()
			if out.String() != "via socks\n" || n < i+1 {
				t.Errorf("got %q after %d tunnels, want \"via socks\\n\" after at least %d", out.String(), n, i+1)
			}
		})
	}
	bad, _ := url.Parse("socks5://u:wrong@" + p.ln.Addr().String())
	c2, _ := startExecNode(t, false, false, Config{Proxy: http.ProxyURL(bad)})
	err := c2.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard, Wire: WireWebSocket}})
	if err == nil || !strings.Contains(err.Error(), "proxy socks5://u:xxxxx@") {
		t.Errorf("wrong proxy password: %v, want an error naming the proxy", err)
	}
}

func TestExecCancel(t *testing.T) {
	c, _ := startExecNode(t, false, false, Config{})
	for _, wire := range wires {
		t.Run(string(wire), func(t *testing.T) {
			ctx, cancel := context.WithCancel(execCtx(t))
			pr, pw := io.Pipe()
			defer pw.Close()
			w := &firstWrite{ch: make(chan struct{}), cancel: cancel}
			err := c.Exec(ctx, &ExecOptions{Pod: "p", Command: []string{"sh", "-c", "echo ready; sleep 100000"},
				StreamOptions: StreamOptions{Stdout: w, Wire: wire, Stdin: pr}})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		})
	}
}

// firstWrite cancels the session on the first output byte.
type firstWrite struct {
	ch     chan struct{}
	cancel context.CancelFunc
	once   bool
}

func (w *firstWrite) Write(p []byte) (int, error) {
	if !w.once {
		w.once = true
		w.cancel()
	}
	return len(p), nil
}

func TestExecBadURL(t *testing.T) {
	c, err := New(&Config{Host: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"::", "ftp://h/x", "/relative"} {
		if err := c.Exec(execCtx(t), &ExecOptions{URL: u, StreamOptions: StreamOptions{Stdout: io.Discard}}); err == nil {
			t.Errorf("URL %q: no error", u)
		}
	}
}
