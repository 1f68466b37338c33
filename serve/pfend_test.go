package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// closingServer is a pod port whose server ends connections first: it
// reads a request head (up to a blank line) when the client sends one, or
// nothing in "banner" mode, writes its answer and closes, as an HTTP/1.0
// server or a banner-and-close protocol does.
type closingServer struct {
	ln     net.Listener
	banner bool
	body   []byte
	wg     sync.WaitGroup
}

func newClosingServer(t *testing.T, banner bool, body []byte) *closingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &closingServer{ln: ln, banner: banner, body: body}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *closingServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	if !s.banner {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
	}
	c.Write(s.body)
}

func (s *closingServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// pfWires are the port-forward wires of a kubectl version and the
// environment selecting each (see harness.Kubectl.PortForwardWires).
func pfWires(v string) map[string][]string {
	minor, _ := strconv.Atoi(strings.TrimPrefix(v, "1."))
	switch {
	case minor <= 29:
		return map[string][]string{"spdy": nil}
	case minor == 30:
		return map[string][]string{"websocket": {"KUBECTL_PORT_FORWARD_WEBSOCKETS=true"}, "spdy": nil}
	}
	return map[string][]string{"websocket": nil, "spdy": {"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}}
}

// TestKubectlPortForwardServerClosesFirst: when the server in the pod
// ends the connection first, every kubectl on every port-forward wire
// delivers every byte and then ends the local connection, as against a
// kubelet. kubectl 1.27 to 1.31 wait for the error stream to end before
// they close the local connection; a node that waits for the client's
// side to end as well leaves them hanging for ever.
func TestKubectlPortForwardServerClosesFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	kc := startKubectlServer(t)
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	servers := []struct {
		name      string
		srv       *closingServer
		request   bool // the client sends a request head first
		halfClose bool // and then half-closes, as the server closes
	}{
		{"http10", newClosingServer(t, false, body), true, false},
		{"banner", newClosingServer(t, true, []byte("220 banner, goodbye\r\n")), false, false},
		{"both-at-once", newClosingServer(t, false, body), true, true},
	}
	for _, v := range kubectlVersions {
		for wire, env := range pfWires(v) {
			t.Run(v+"/"+wire, func(t *testing.T) {
				for _, s := range servers {
					local, stop := kubectlPortForward(t, kubectlBin(t, v), kc, env, s.srv.port())
					c, err := net.Dial("tcp", "127.0.0.1:"+local)
					if err != nil {
						t.Fatal(err)
					}
					if s.request {
						io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
					}
					if s.halfClose {
						c.(*net.TCPConn).CloseWrite()
					}
					c.SetReadDeadline(time.Now().Add(30 * time.Second))
					got, err := io.ReadAll(c)
					c.Close()
					stderr := stop()
					switch {
					case errors.Is(err, os.ErrDeadlineExceeded):
						t.Errorf("%s: %d of %d bytes, then no end of stream within 30 s (a hang); stderr %s", s.name, len(got), len(s.srv.body), stderr)
					case err != nil || sha256.Sum256(got) != sha256.Sum256(s.srv.body):
						t.Errorf("%s: %d bytes (%v), want the %d the pod sent; stderr %s", s.name, len(got), err, len(s.srv.body), stderr)
					}
				}
			})
		}
	}
}

// kubectlPortForward starts `kubectl port-forward demo :port` and returns
// the local port and a stop that ends kubectl and returns its stderr.
func kubectlPortForward(t *testing.T, bin, kc string, env []string, port int) (string, func() string) {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "--kubeconfig", kc, "--cache-dir", filepath.Join(home, "cache"),
		"port-forward", "--address", "127.0.0.1", "demo", ":"+strconv.Itoa(port))
	cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() string {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			io.Copy(io.Discard, stdout)
			cmd.Wait()
			cancel()
		}
		return stderr.String()
	}
	t.Cleanup(func() { stop() })
	forwarding := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> ` + strconv.Itoa(port) + `$`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], stop
		}
	}
	t.Fatalf("no forwarding line; stderr %s", stop())
	return "", nil
}
