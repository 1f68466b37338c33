package client

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
)

// execWait bounds every wait of the exec tests.
const execWait = 60 * time.Second

// upgradeCounts counts the upgrade requests a test server saw, per wire.
type upgradeCounts struct{ ws, spdy atomic.Int32 }

// startExecNode serves pod "p" (container "c", plus an attachable "cat"
// container with stdin) from porthole's node on 127.0.0.1 and returns a
// client for it. refuseWS answers every WebSocket upgrade with the empty 403
// of the legacy servers, refuseSPDY every SPDY upgrade with a 403 Status.
func startExecNode(t *testing.T, refuseWS, refuseSPDY bool, cfg Config) (*Client, *upgradeCounts) {
	t.Helper()
	n := newNodeHandler(t)
	counts := &upgradeCounts{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case protocol.IsWebSocketUpgrade(r):
			counts.ws.Add(1)
			if refuseWS {
				refuseRaw(w)
				return
			}
		case protocol.IsSPDYUpgrade(r):
			counts.spdy.Add(1)
			if refuseSPDY {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, `{"kind":"Status","status":"Failure","message":"pods \"p\" is forbidden","code":403}`)
				return
			}
		}
		n.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.Host = srv.URL
	c, err := New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, counts
}

// refuseRaw writes the x/net servers' refusal: "HTTP/1.1 403 Forbidden",
// no headers, no body, then closes.
func refuseRaw(w http.ResponseWriter) {
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer nc.Close()
	_, _ = brw.WriteString("HTTP/1.1 403 Forbidden\r\n\r\n")
	_ = brw.Flush()
}

// newNodeHandler is porthole's node serving pod "p" (container "c") from
// local processes; cleanup shuts it down after the test's servers closed.
func newNodeHandler(t *testing.T) http.Handler {
	return streamtest.NewNode(t, []*kube.Pod{streamtest.SleepPod("p")}, nil).Node
}

// connectProxy is an HTTP CONNECT proxy on 127.0.0.1 that counts tunnels.
type connectProxy struct {
	ln      net.Listener
	wg      sync.WaitGroup
	tunnels atomic.Int32
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *connectProxy) acceptLoop() { acceptEach(p.ln, &p.wg, p.serve) }

// acceptEach serves each connection of ln on its own goroutine, counted in
// wg (which already counts this loop) until ln is closed.
func acceptEach(ln net.Listener, wg *sync.WaitGroup, serve func(net.Conn)) {
	defer wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go serve(c)
	}
}

func (p *connectProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", req.Host)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer up.Close()
	p.tunnels.Add(1)
	_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	relay(c, br, up)
}

// relay copies both ways between a proxy's client c (read through br, which
// may hold bytes already) and up, passing each end on as a half-close.
func relay(c net.Conn, br io.Reader, up net.Conn) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, br)
		_ = up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(c, up)
	_ = c.(*net.TCPConn).CloseWrite()
	<-done
}

// socksProxy is a SOCKS5 proxy (RFC 1928) that wants user "u", password
// "p" (RFC 1929) and records the addresses asked for.
type socksProxy struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	asked []string
}

func startSOCKSProxy(t *testing.T) *socksProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &socksProxy{ln: ln}
	p.wg.Add(1)
	go acceptEach(ln, &p.wg, p.serve)
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *socksProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	read := func(n int) []byte {
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil
		}
		return b
	}
	hello := read(2)
	if hello == nil || hello[0] != 5 || read(int(hello[1])) == nil {
		return
	}
	c.Write([]byte{5, 2}) // username and password
	auth := read(2)
	if auth == nil {
		return
	}
	user := read(int(auth[1]))
	plen := read(1)
	if plen == nil {
		return
	}
	pass := read(int(plen[0]))
	if string(user) != "u" || string(pass) != "p" {
		c.Write([]byte{1, 1})
		return
	}
	c.Write([]byte{1, 0})
	req := read(4)
	if req == nil || req[1] != 1 {
		return
	}
	var host string
	switch req[3] {
	case 1:
		host = net.IP(read(4)).String()
	case 4:
		host = net.IP(read(16)).String()
	case 3:
		n := read(1)
		host = string(read(int(n[0])))
	}
	port := read(2)
	addr := net.JoinHostPort(host, strconv.Itoa(int(port[0])<<8|int(port[1])))
	p.mu.Lock()
	p.asked = append(p.asked, addr)
	p.mu.Unlock()
	up, err := net.Dial("tcp", addr)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	relay(c, br, up)
}
