package node_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// startShellNode serves one pod "sh" whose container runs a shell on a tty
// with stdin open, with a short attach stall timeout.
func startShellNode(t *testing.T) string {
	sh := streamtest.Container("c", "sh")
	sh.Stdin, sh.TTY = true, true
	return streamtest.StartNode(t, []*kube.Pod{streamtest.Pod("sh", sh)}, &streamtest.NodeOptions{
		Runtime: localrt.Options{AttachStallTimeout: 300 * time.Millisecond, KillGrace: 200 * time.Millisecond}}).URL
}

// attachSession is one tty attach with stdin and stdout, on either wire.
type attachSession struct {
	conn          stream.Conn
	stdin, stdout stream.Stream
}

func attachTTY(t *testing.T, ctx context.Context, base string, wire string) *attachSession {
	t.Helper()
	u := base + "/api/v1/namespaces/default/pods/sh/attach?container=c&stdin=true&stdout=true&tty=true"
	switch wire {
	case "websocket":
		conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Versions: []protocol.Version{protocol.WebSocketVersions[0]}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return &attachSession{conn: conn, stdin: conn.Channel(channel.Stdin), stdout: conn.Channel(channel.Stdout)}
	default:
		conn, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: []string{protocol.V4}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		open := func(typ string) stream.Stream {
			s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
			if err != nil {
				t.Fatalf("open %s: %v", typ, err)
			}
			return s
		}
		open("error")
		s := &attachSession{conn: conn, stdin: open("stdin"), stdout: open("stdout")}
		open("resize")
		return s
	}
}

// TestStuckAttacherDoesNotStallOthers: one attacher of a tty pod that
// stops reading (frozen) or whose connection is cut under a pending write
// (killed) never holds up a second attacher, on every wire; the frozen one
// is cut by the server, and the shell keeps running.
func TestStuckAttacherDoesNotStallOthers(t *testing.T) {
	for _, wire := range []string{"websocket", "spdy"} {
		for _, fault := range []string{"frozen", "killed"} {
			t.Run(wire+"/"+fault, func(t *testing.T) {
				base := startShellNode(t)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				px := newFaultProxy(t, strings.TrimPrefix(base, "http://"))

				// A is attached through the proxy, and the shell starts a
				// flood that fills A's side before A is stuck.
				a := attachTTY(t, ctx, "http://"+px.addr(), wire)
				if _, err := io.WriteString(a.stdin, "head -c 24000000 /dev/zero | tr '\\000' '\\170'; echo E''ND1\n"); err != nil {
					t.Fatal(err)
				}
				readUntil(t, a.stdout, "xxxx")
				switch fault {
				case "frozen":
					px.freeze()
				case "killed":
					px.kill()
				}

				b := attachTTY(t, ctx, base, wire)
				if _, err := io.WriteString(b.stdin, "\nhead -c 4000000 /dev/zero | tr '\\000' '\\171'; echo; echo E''ND2\n"); err != nil {
					t.Fatal(err)
				}
				got := make(chan int, 1)
				go func() { got <- countYUntil(b.stdout, "END2") }()
				select {
				case n := <-got:
					if n != 4000000 {
						t.Errorf("second attacher: got %d bytes of the second command's output, want 4000000", n)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("the second attacher's output stalled behind the stuck one")
				}
				if fault == "frozen" {
					// The server cut the frozen session: its side of the
					// proxy reaches EOF or a reset.
					select {
					case <-px.upstreamDone:
					case <-time.After(30 * time.Second):
						t.Fatal("the server never cut the frozen attacher")
					}
				}
				// The shell survived: it still answers.
				if _, err := io.WriteString(b.stdin, "echo al''ive\n"); err != nil {
					t.Fatal(err)
				}
				readUntil(t, b.stdout, "alive")
			})
		}
	}
}

// readUntil reads s until want shows up, bounded in time by the caller's
// context (the connection's cleanup).
func readUntil(t *testing.T, s io.Reader, want string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		var tail string
		for {
			n, err := s.Read(buf)
			tail += string(buf[:n])
			if strings.Contains(tail, want) {
				done <- nil
				return
			}
			if len(tail) > len(want) {
				tail = tail[len(tail)-len(want):]
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("reading for %q: %v", want, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q within 30s", want)
	}
}

// countYUntil counts 'y' bytes until a line holding end; -1 if the stream
// ends first.
func countYUntil(r io.Reader, end string) int {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	for {
		line, err := br.ReadString('\n')
		if strings.Contains(line, end) {
			return n
		}
		n += strings.Count(line, "y")
		if err != nil {
			return -1
		}
	}
}

// faultProxy relays one loopback TCP connection and can make it stuck:
// freeze stops relaying the server's bytes (a client that stopped
// reading, or a peer behind a dead network), kill resets the server's side
// (a client killed with unread data).
type faultProxy struct {
	ln           net.Listener
	upstream     string
	mu           sync.Mutex
	up, down     net.Conn
	frozen       chan struct{}
	freezeOnce   sync.Once
	upstreamDone chan struct{} // closed when the server's side ended
	wg           sync.WaitGroup
}

func newFaultProxy(t *testing.T, upstream string) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, upstream: upstream, frozen: make(chan struct{}), upstreamDone: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range []net.Conn{p.up, p.down} {
			if c != nil {
				c.Close()
			}
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) serve() {
	defer p.wg.Done()
	down, err := p.ln.Accept()
	if err != nil {
		return
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		down.Close()
		return
	}
	p.mu.Lock()
	p.up, p.down = up, down
	p.mu.Unlock()
	p.wg.Add(2)
	go func() { // client to server
		defer p.wg.Done()
		io.Copy(up, down)
	}()
	go func() { // server to client, until frozen
		defer p.wg.Done()
		defer close(p.upstreamDone)
		buf := make([]byte, 4096)
		for {
			select {
			case <-p.frozen:
				// Once the server gives up on the frozen client, the
				// client learns it, as it would when it woke up.
				waitHangup(up)
				down.Close()
				return
			default:
			}
			up.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, err := up.Read(buf)
			if n > 0 {
				if _, werr := down.Write(buf[:n]); werr != nil {
					return
				}
			}
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				return
			}
		}
	}()
}

// waitHangup waits, without reading (the receive buffer stays full, so
// the server's writes stay blocked as behind a frozen client), until the
// server closes or resets its side of c, or c is closed here.
func waitHangup(c net.Conn) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return
	}
	for {
		hung := false
		cerr := rc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
			n, err := unix.Poll(fds, 50)
			hung = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
		})
		if cerr != nil || hung {
			return
		}
	}
}

func (p *faultProxy) freeze() { p.freezeOnce.Do(func() { close(p.frozen) }) }

// kill resets the server's side of the connection, as the kernel does for
// a killed client with unread data.
func (p *faultProxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tc, ok := p.up.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	p.up.Close()
	p.down.Close()
}
