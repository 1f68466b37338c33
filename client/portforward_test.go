package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"
)

var pfWires = []Wire{WireWebSocket, WireSPDY, WireAuto}

func wireName(w Wire) string {
	if w == WireAuto {
		return "auto"
	}
	return string(w)
}

func newTestClient(t *testing.T, base string) *Client {
	t.Helper()
	c, err := New(&Config{Host: base})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPortForwardWires forwards on every wire: bytes both ways through an
// echo server, a half-close whose answer still arrives, and concurrent
// connections with distinct payloads, with kubectl's output lines.
func TestPortForwardWires(t *testing.T) {
	base := startPFNode(t, nil)
	echoPort, sumPort := tcpServer(t, echo), tcpServer(t, summarise)
	for _, w := range pfWires {
		t.Run(wireName(w), func(t *testing.T) {
			c := newTestClient(t, base)
			fr, ports := startForward(t, c.PortForward, &PortForwardOptions{
				Pod: "p", Wire: w, Addresses: []string{"127.0.0.1"},
				Ports: []ForwardedPort{{Remote: echoPort}, {Remote: sumPort}},
			})
			if len(ports) != 2 || ports[0].Local == 0 || ports[1].Local == 0 {
				t.Fatalf("ready ports: %v", ports)
			}
			for _, p := range ports {
				want := fmt.Sprintf("Forwarding from 127.0.0.1:%d -> %d\n", p.Local, p.Remote)
				if !strings.Contains(fr.out.String(), want) {
					t.Errorf("stdout %q lacks %q", fr.out, want)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			echoAddr := "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
			sumAddr := "127.0.0.1:" + strconv.Itoa(int(ports[1].Local))

			big := payload(1, 4<<20)
			got, err := roundTrip(ctx, echoAddr, big)
			if err != nil || !bytes.Equal(got, big) {
				t.Fatalf("echo: got %d bytes (err %v), want the %d sent", len(got), err, len(big))
			}
			// Half-close: the server reads to EOF and then answers.
			got, err = roundTrip(ctx, sumAddr, big)
			if want := summary(int64(len(big)), sha(big)); err != nil || string(got) != want {
				t.Fatalf("half-close: got %q (err %v), want %q", got, err, want)
			}
			// Concurrent connections, distinct payloads.
			g, gctx := errgroup.WithContext(ctx)
			for i := range 20 {
				g.Go(func() error {
					p := payload(uint64(100+i), 64<<10+i)
					got, err := roundTrip(gctx, echoAddr, p)
					if err != nil || !bytes.Equal(got, p) {
						return fmt.Errorf("connection %d: got %d bytes (err %v), want %d", i, len(got), err, len(p))
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			if n := fr.out.count(fmt.Sprintf("Handling connection for %d\n", ports[0].Local)); n != 21 {
				t.Errorf("Handling connection lines for the echo port: got %d, want 21", n)
			}
			if s := fr.errOut.String(); s != "" {
				t.Errorf("stderr: %q", s)
			}
		})
	}
}

func sha(p []byte) []byte { s := sha256.Sum256(p); return s[:] }

// TestPortForwardRefusedPortKeepsSession: a remote port nothing listens on
// fails that connection only; the session and the other forwards go on.
func TestPortForwardRefusedPortKeepsSession(t *testing.T) {
	base := startPFNode(t, nil)
	echoPort := tcpServer(t, echo)
	closed := closedPort(t)
	for _, w := range []Wire{WireWebSocket, WireSPDY} {
		t.Run(wireName(w), func(t *testing.T) {
			c := newTestClient(t, base)
			fr, ports := startForward(t, c.PortForward, &PortForwardOptions{
				Pod: "p", Wire: w, Addresses: []string{"127.0.0.1"},
				Ports: []ForwardedPort{{Remote: echoPort}, {Remote: closed}},
			})
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			echoAddr := "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
			badAddr := "127.0.0.1:" + strconv.Itoa(int(ports[1].Local))
			for i := range 3 {
				got, _ := roundTrip(ctx, badAddr, []byte("hello"))
				if len(got) != 0 {
					t.Errorf("refused port answered %q", got)
				}
				fr.errOut.await(t, "an error occurred forwarding", i+1)
				p := payload(uint64(i), 100<<10)
				if got, err := roundTrip(ctx, echoAddr, p); err != nil || !bytes.Equal(got, p) {
					t.Fatalf("echo after refused connection %d: got %d bytes (err %v)", i, len(got), err)
				}
			}
			want := fmt.Sprintf("an error occurred forwarding %d -> %d: error forwarding port %d to pod p", ports[1].Local, closed, closed)
			if !strings.Contains(fr.errOut.String(), want) {
				t.Errorf("stderr %q lacks %q", fr.errOut, want)
			}
			if strings.Contains(fr.errOut.String(), "lost connection") {
				t.Errorf("session was lost: %q", fr.errOut)
			}
		})
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return p
}

// upgradeLog records the upgrades a handler saw and can refuse WebSocket.
type upgradeLog struct {
	mu       sync.Mutex
	seen     []string // "websocket" or "spdy" per attempt
	refuseWS bool
	next     http.Handler
}

func (u *upgradeLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := "spdy"
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		kind = "websocket"
	}
	u.mu.Lock()
	u.seen = append(u.seen, kind)
	refuse := u.refuseWS && kind == "websocket"
	u.mu.Unlock()
	if refuse {
		http.Error(w, "no websockets here", http.StatusBadRequest)
		return
	}
	u.next.ServeHTTP(w, r)
}

func (u *upgradeLog) attempts() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return strings.Join(u.seen, ",")
}

// TestPortForwardFallback: WireAuto tunnels when it can, falls back to
// SPDY when the tunnel's upgrade is refused; WireWebSocket does not fall
// back and reports the refusal; WireSPDY never tries the tunnel.
func TestPortForwardFallback(t *testing.T) {
	log := &upgradeLog{}
	base := startPFNode(t, func(h http.Handler) http.Handler { log.next = h; return log })
	echoPort := tcpServer(t, echo)
	for _, tc := range []struct {
		name     string
		wire     Wire
		refuseWS bool
		want     string // upgrade attempts
		wantErr  bool
	}{
		{"auto tunnels", WireAuto, false, "websocket", false},
		{"auto falls back", WireAuto, true, "websocket,spdy", false},
		{"spdy only", WireSPDY, false, "spdy", false},
		{"websocket only refused", WireWebSocket, true, "websocket", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.mu.Lock()
			log.seen, log.refuseWS = nil, tc.refuseWS
			log.mu.Unlock()
			c := newTestClient(t, base)
			opts := &PortForwardOptions{Pod: "p", Wire: tc.wire, Addresses: []string{"127.0.0.1"},
				Ports: []ForwardedPort{{Remote: echoPort}}}
			if tc.wantErr {
				err := c.PortForward(context.Background(), opts)
				var ue *UpgradeError
				if !errors.As(err, &ue) || ue.StatusCode != http.StatusBadRequest {
					t.Fatalf("PortForward: got %v, want an *UpgradeError with 400", err)
				}
			} else {
				_, ports := startForward(t, c.PortForward, opts)
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				if got, err := roundTrip(ctx, "127.0.0.1:"+strconv.Itoa(int(ports[0].Local)), []byte("ping")); err != nil || string(got) != "ping" {
					t.Fatalf("echo: got %q, %v", got, err)
				}
			}
			if got := log.attempts(); got != tc.want {
				t.Errorf("upgrade attempts: got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPortForwardUnknownPod: the first connection's refusal is returned and
// nothing listens.
func TestPortForwardUnknownPod(t *testing.T) {
	base := startPFNode(t, nil)
	c := newTestClient(t, base)
	readied := false
	err := c.PortForward(context.Background(), &PortForwardOptions{Pod: "nope", Wire: WireSPDY,
		Ports: []ForwardedPort{{Remote: 80}}, Ready: func([]ForwardedPort) { readied = true }})
	var ue *UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusNotFound || !strings.Contains(ue.Message, `pods "nope" not found`) {
		t.Fatalf("PortForward: got %v, want a 404 *UpgradeError", err)
	}
	if readied {
		t.Error("Ready was called")
	}
}

// TestPortForwardOptionErrors: bad options fail before any request.
func TestPortForwardOptionErrors(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1")
	for _, tc := range []struct {
		name string
		opts *PortForwardOptions
		want string
	}{
		{"nil", nil, "no pod"},
		{"no ports", &PortForwardOptions{Pod: "p"}, "no ports"},
		{"remote 0", &PortForwardOptions{Pod: "p", Ports: []ForwardedPort{{Local: 1}}}, "remote port must be > 0"},
		{"bad address", &PortForwardOptions{Pod: "p", Ports: []ForwardedPort{{Remote: 1}}, Addresses: []string{"nowhere"}}, "nowhere is not a valid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.PortForward(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
