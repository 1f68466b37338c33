package kubectl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// echoServer is the "pod port": porthole's local runtime forwards to the
// loopback port of this machine, so the test listens there itself.
type echoServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go e.acceptLoop()
	t.Cleanup(func() {
		ln.Close()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) port() int { return e.ln.Addr().(*net.TCPAddr).Port }

func (e *echoServer) acceptLoop() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.wg.Add(1)
		go e.echo(c)
	}
}

func (e *echoServer) echo(c net.Conn) {
	defer e.wg.Done()
	defer c.Close()
	_, _ = io.Copy(c, c)
}

var forwarding = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)`)

// TestPortForward forwards a local port with every kubectl version
// on each port-forward wire and pushes 16 MiB through two connections of
// the same session, byte-exact.
func TestPortForward(t *testing.T) {
	echo := startEcho(t)
	for _, k := range env.Kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			for _, w := range k.PortForwardWires() {
				t.Run(w.Name, func(t *testing.T) {
					c := &client{k: k, w: w, home: t.TempDir()}
					c.testPortForward(t, echo.port())
				})
			}
		})
	}
}

func (c *client) testPortForward(t *testing.T, remote int) {
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	mark := env.Server.Proxy.Mark()
	cmd := c.command(ctx, "port-forward", "--address", "127.0.0.1", "pod/"+harness.PodExec, fmt.Sprintf(":%d", remote))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	local := ""
	sc := bufio.NewScanner(stdout)
	for local == "" && sc.Scan() {
		if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
			local = m[1]
		}
	}
	if local == "" {
		t.Fatalf("kubectl port-forward printed no Forwarding line (stderr: %s)", tail(stderr.String()))
	}
	go drain(sc)
	for i := range 2 {
		if err := pushThrough(ctx, "127.0.0.1:"+local, env.Input); err != nil {
			t.Fatalf("connection %d: %v (kubectl stderr: %s)", i, err, tail(stderr.String()))
		}
	}
	c.checkPortForwardWire(t, mark)
}

func drain(sc *bufio.Scanner) {
	for sc.Scan() {
	}
}

// pushThrough writes the file through addr while reading the echo, and
// requires the same bytes back.
func pushThrough(ctx context.Context, addr string, f *harness.DataFile) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	in, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	werr := make(chan error, 1)
	go copyInto(conn, in, werr)
	got := harness.NewHashWriter()
	_, rerr := io.CopyN(got, conn, f.Size)
	if err := errors.Join(<-werr, rerr); err != nil {
		return fmt.Errorf("after %d of %d bytes back: %w", got.Len(), f.Size, err)
	}
	if got.Sum() != f.SHA256 {
		return fmt.Errorf("echo: sha256 %s, want %s", got.Sum(), f.SHA256)
	}
	return nil
}

func copyInto(dst io.Writer, src io.Reader, done chan<- error) {
	_, err := io.Copy(dst, src)
	done <- err
}

// checkPortForwardWire: one upgrade, on the wire under test: the WebSocket
// tunnel answering SPDY/3.1+portforward.k8s.io, or SPDY portforward.k8s.io.
func (c *client) checkPortForwardWire(t *testing.T, mark int) {
	t.Helper()
	ups := env.Server.Proxy.UpgradesSince(mark)
	if len(ups) != 1 {
		t.Errorf("upgrade attempts: got %d, want 1: %v", len(ups), ups)
		return
	}
	u := ups[0]
	proto := "portforward.k8s.io"
	if c.w.WebSocket {
		proto = "SPDY/3.1+portforward.k8s.io"
	}
	if u.WebSocket() != c.w.WebSocket || u.Status != 101 || u.Negotiated != proto {
		t.Errorf("upgrade: got %v, want %s 101 %q", u, c.w.Name, proto)
	}
}
