package portforward

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// podServer is a "pod port": both porthole's local runtime and the
// reference runtime forward to this machine's loopback, so the test
// listens there itself. Each connection runs serve.
type podServer struct {
	ln    net.Listener
	serve func(*net.TCPConn)
	wg    sync.WaitGroup
}

func startPodServer(t *testing.T, serve func(*net.TCPConn)) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &podServer{ln: ln, serve: serve}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *podServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.handle(c.(*net.TCPConn))
	}
}

func (s *podServer) handle(c *net.TCPConn) {
	defer s.wg.Done()
	defer c.Close()
	s.serve(c)
}

// echo sends back what it reads and half-closes at EOF.
func echo(c *net.TCPConn) {
	_, _ = io.Copy(c, c)
	_ = c.CloseWrite()
}

// sink reads to EOF, then answers "<bytes> <sha256>": the answer can only
// come after the client's half-close arrived, and must still travel back.
func sink(c *net.TCPConn) {
	h := sha256.New()
	n, _ := io.Copy(h, c)
	_, _ = fmt.Fprintf(c, "%d %x", n, h.Sum(nil))
}

// closedPort returns a loopback port nothing listens on, for the whole
// test: it stays bound, on 127.0.0.1 and ::1, by sockets that never listen,
// so a connection to it is refused and no listener of the test's (or of a
// peer, or of another package running beside it) can be given the port.
// A port merely listened on and closed was taken again by another
// forward's local listener within the test's minutes and answered.
func closedPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		v4, port, err := boundSocket(syscall.AF_INET, 0)
		if err != nil {
			t.Fatal(err)
		}
		v6, _, err := boundSocket(syscall.AF_INET6, port)
		if err != nil {
			syscall.Close(v4)
			continue // ::1 has the port in use: another one
		}
		t.Cleanup(func() { syscall.Close(v4); syscall.Close(v6) })
		return port
	}
	t.Fatal("no port free on both 127.0.0.1 and ::1")
	return 0
}

// boundSocket binds a TCP socket of family to the loopback address and
// port (0: any), without listening, and returns it and its port.
func boundSocket(family, port int) (int, int, error) {
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("socket: %w", err)
	}
	var sa syscall.Sockaddr = &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	if family == syscall.AF_INET6 {
		sa = &syscall.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return -1, 0, fmt.Errorf("bind: %w", err)
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return -1, 0, fmt.Errorf("getsockname: %w", err)
	}
	switch a := got.(type) {
	case *syscall.SockaddrInet4:
		return fd, a.Port, nil
	case *syscall.SockaddrInet6:
		return fd, a.Port, nil
	}
	syscall.Close(fd)
	return -1, 0, errors.New("getsockname: not an inet address")
}

// dial connects to a forwarded local port; ctx ending closes the socket.
func dial(ctx context.Context, addr string) (*net.TCPConn, func(), error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return c.(*net.TCPConn), func() { stop(); c.Close() }, nil
}

// source is n deterministic bytes from seed and their running hash.
func source(seed uint64, n int64, h io.Writer) io.Reader {
	return io.TeeReader(io.LimitReader(harness.NewDataReader(seed), n), h)
}

// echoBulk streams n bytes through the echo server while reading the echo,
// both ways at once, and compares SHA-256 and length.
func echoBulk(ctx context.Context, addr string, n int64, seed uint64) error {
	c, done, err := dial(ctx, addr)
	if err != nil {
		return err
	}
	defer done()
	sent := sha256.New()
	werr := make(chan error, 1)
	go writeAll(c, source(seed, n, sent), werr)
	got := harness.NewHashWriter()
	_, rerr := io.Copy(got, c)
	if err := errors.Join(<-werr, rerr); err != nil {
		return fmt.Errorf("echo after %d of %d bytes back: %w", got.Len(), n, err)
	}
	if want := hex.EncodeToString(sent.Sum(nil)); got.Len() != n || got.Sum() != want {
		return fmt.Errorf("echo: got %d bytes sha256 %s, want %d bytes %s", got.Len(), got.Sum(), n, want)
	}
	return nil
}

// writeAll copies r to c, then half-closes c.
func writeAll(c *net.TCPConn, r io.Reader, done chan<- error) {
	_, err := io.Copy(c, r)
	if err == nil {
		err = c.CloseWrite()
	}
	done <- err
}

// sinkBulk uploads n bytes, half-closes, and requires the sink's answer to
// name exactly what was sent.
func sinkBulk(ctx context.Context, addr string, n int64, seed uint64) error {
	c, done, err := dial(ctx, addr)
	if err != nil {
		return err
	}
	defer done()
	sent := sha256.New()
	werr := make(chan error, 1)
	go writeAll(c, source(seed, n, sent), werr)
	answer, rerr := io.ReadAll(io.LimitReader(c, 200))
	if err := errors.Join(<-werr, rerr); err != nil {
		return fmt.Errorf("sink: %w (answer %q)", err, answer)
	}
	if want := strconv.FormatInt(n, 10) + " " + hex.EncodeToString(sent.Sum(nil)); string(answer) != want {
		return fmt.Errorf("sink answered %q, want %q", answer, want)
	}
	return nil
}

// concurrentEcho runs conns echo connections at once, each with its own
// payload (size varies with the index so no two are alike).
func concurrentEcho(ctx context.Context, addr string, conns int, size int64) error {
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := echoBulk(ctx, addr, size+int64(i), uint64(1000+i)); err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// refused connects to a forward whose remote port nothing listens on,
// writes a little and returns what came back before the forward closed
// the connection.
func refused(ctx context.Context, addr string) ([]byte, error) {
	c, done, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer done()
	_, _ = c.Write([]byte("anyone there?"))
	return io.ReadAll(c)
}

// tcpAddr is 127.0.0.1:port.
func tcpAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// closingSize is what closeFirst sends before it closes.
const closingSize = 64 * harness.MiB

// closeFirst is a server that ends the connection first, as an HTTP/1.0
// server does: it reads a request head (to its blank line), sends
// closingSize bytes and closes, never waiting for the client's end.
func closeFirst(c *net.TCPConn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil || line == "\r\n" {
			break
		}
	}
	_, _ = io.Copy(c, source(3, closingSize, io.Discard))
	_ = c.Close()
}

// closedByServer sends a request head and reads the answer to its end,
// keeping its own side open as HTTP/1.0 clients do: the end of stream must
// come from the server's close, through the forward, within hangBound of
// the last byte.
func closedByServer(ctx context.Context, addr string) error {
	const hangBound = 30 * time.Second
	c, done, err := dial(ctx, addr)
	if err != nil {
		return err
	}
	defer done()
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return err
	}
	want := sha256.New()
	_, _ = io.Copy(want, source(3, closingSize, io.Discard))
	got := harness.NewHashWriter()
	buf := make([]byte, 64<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(hangBound))
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("%d of %d bytes, then no end of stream for %v: the forward hangs after the server closed", got.Len(), int64(closingSize), hangBound)
		}
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", got.Len(), err)
		}
	}
	if w := hex.EncodeToString(want.Sum(nil)); got.Len() != closingSize || got.Sum() != w {
		return fmt.Errorf("got %d bytes (sha256 %s), want %d (%s)", got.Len(), got.Sum(), int64(closingSize), w)
	}
	return nil
}
