package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// EchoServer is the "pod port" of port-forward cases: porthole's local
// runtime forwards to this machine's loopback, so a test listens there
// itself. It echoes each connection until EOF, then half-closes it.
type EchoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	conns atomic.Int64 // connections not yet ended

	mu     sync.Mutex
	echoed []int64 // bytes echoed by each ended connection
}

// StartEcho listens on 127.0.0.1 until the test ends, when it closes and
// joins every connection's goroutine.
func StartEcho(t testing.TB) *EchoServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &EchoServer{ln: ln}
	e.wg.Add(1)
	go e.acceptLoop()
	t.Cleanup(func() {
		_ = ln.Close()
		e.wg.Wait()
	})
	return e
}

// Port is the port it listens on.
func (e *EchoServer) Port() int { return e.ln.Addr().(*net.TCPAddr).Port }

// Open is the number of connections not yet ended, after waiting (up to
// 15 s) for forwarders to tear theirs down.
func (e *EchoServer) Open() int64 {
	deadline := time.Now().Add(15 * time.Second)
	for e.conns.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // bounded poll: no event to wait on
	}
	return e.conns.Load()
}

// String lists the bytes echoed by each ended connection, for a failure
// message.
func (e *EchoServer) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprint(e.echoed)
}

func (e *EchoServer) acceptLoop() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.conns.Add(1)
		e.wg.Add(1)
		go e.echo(c.(*net.TCPConn))
	}
}

func (e *EchoServer) echo(c *net.TCPConn) {
	defer e.wg.Done()
	defer e.conns.Add(-1)
	defer c.Close()
	n, _ := io.Copy(c, c)
	_ = c.CloseWrite()
	e.mu.Lock()
	e.echoed = append(e.echoed, n)
	e.mu.Unlock()
}

// PushThrough writes the file through addr (an echo, forwarded) while it
// reads the echo, half-closes its side when the file is written, and
// requires the same bytes back and then the end: the forwarder carries
// the half-close to the echo, whose own half-close comes back as EOF, so
// a byte too many fails as surely as a byte too few.
func PushThrough(ctx context.Context, addr string, f *DataFile) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	conn := c.(*net.TCPConn)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	in, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if err == nil {
			err = conn.CloseWrite()
		}
		werr <- err
	}()
	got := NewHashWriter()
	_, rerr := io.Copy(got, conn)
	if err := errors.Join(<-werr, rerr); err != nil {
		if ctx.Err() != nil && got.Len() == f.Size {
			return fmt.Errorf("all %d bytes back, then no end before %w: the forwarder did not carry the half-close", f.Size, context.Cause(ctx))
		}
		return fmt.Errorf("after %d of %d bytes back: %w", got.Len(), f.Size, err)
	}
	if got.Len() != f.Size {
		return fmt.Errorf("echo: %d bytes back before the end, want %d", got.Len(), f.Size)
	}
	if got.Sum() != f.SHA256 {
		return fmt.Errorf("echo: sha256 %s, want %s", got.Sum(), f.SHA256)
	}
	return nil
}
