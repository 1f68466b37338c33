package gateway_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol/status"
)

// scriptedUpstream is a raw TCP upstream: for every connection it reads
// one request head, records it, writes answer, and then records whatever
// else arrives on that connection until it closes.
type scriptedUpstream struct {
	ln     net.Listener
	answer string
	echo   bool // after answering, echo bytes back (a spliced session)
	mu     sync.Mutex
	heads  []*http.Request
	extra  []byte
	wg     sync.WaitGroup
}

func newScriptedUpstream(t *testing.T, answer string, echo bool) *scriptedUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &scriptedUpstream{ln: ln, answer: answer, echo: echo}
	u.wg.Add(1)
	go u.acceptLoop()
	t.Cleanup(func() {
		ln.Close()
		u.wg.Wait()
	})
	return u
}

func (u *scriptedUpstream) URL() string { return "http://" + u.ln.Addr().String() }

func (u *scriptedUpstream) acceptLoop() {
	defer u.wg.Done()
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.wg.Add(1)
		go u.serve(c)
	}
}

func (u *scriptedUpstream) serve(c net.Conn) {
	defer u.wg.Done()
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	u.mu.Lock()
	u.heads = append(u.heads, req)
	u.mu.Unlock()
	io.WriteString(c, u.answer)
	if u.echo {
		io.Copy(c, br)
		return
	}
	c.(*net.TCPConn).CloseWrite() // like the x/net servers' raw refusals: the body ends at EOF
	rest, _ := io.ReadAll(br)
	u.mu.Lock()
	u.extra = append(u.extra, rest...)
	u.mu.Unlock()
}

func (u *scriptedUpstream) requests() ([]*http.Request, []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.heads...), append([]byte(nil), u.extra...)
}

const spdyUpgrade = "POST /api/v1/namespaces/default/pods/p/exec?command=true&stdout=true HTTP/1.1\r\n" +
	"Host: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"

// rawRoundTrip writes raw to the gateway and returns its first response
// (head and body, re-serialised) and, when drain is set, whether the
// gateway then closed the connection with nothing more sent.
func rawRoundTrip(t *testing.T, base, raw string, drain bool) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	var sb strings.Builder
	resp.Write(&sb)
	if !drain {
		return sb.String(), false
	}
	rest, err := io.ReadAll(br)
	return sb.String(), err == nil && len(rest) == 0
}

// TestRefusedUpgradeDoesNotSmuggle: a request pipelined behind an upgrade
// that the upstream refuses must reach neither the upstream connection
// (CVE-2018-1002105) nor be served by the gateway.
func TestRefusedUpgradeDoesNotSmuggle(t *testing.T) {
	up := newScriptedUpstream(t, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nnot ok", false)
	gw, _ := startGateway(t, up.URL(), nil)
	smuggled := "GET /api/v1/namespaces/kube-system/secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	got, closed := rawRoundTrip(t, gw, spdyUpgrade+smuggled, true)
	if !strings.HasPrefix(got, "HTTP/1.1 403 Forbidden\r\n") || !strings.HasSuffix(got, "not ok") {
		t.Errorf("client got %q, want the upstream's 403 relayed", got)
	}
	if !closed {
		t.Errorf("gateway did not close the connection at once after the refusal, or answered again")
	}
	reqs, extra := up.requests()
	if len(reqs) != 1 || len(extra) != 0 {
		t.Fatalf("upstream saw %d requests and %q after the upgrade, want 1 and nothing", len(reqs), extra)
	}
	if reqs[0].Header.Get("Authorization") != "" || reqs[0].Method != "POST" || reqs[0].Header.Get("Upgrade") != "SPDY/3.1" {
		t.Errorf("upstream request: %s %v", reqs[0].Method, reqs[0].Header)
	}
}

// TestRedirectIsNotFollowed: a 3xx from the upstream becomes a 500 and the
// redirect target is never contacted (CVE-2020-8559).
func TestRedirectIsNotFollowed(t *testing.T) {
	target := newScriptedUpstream(t, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n", true)
	up := newScriptedUpstream(t, "HTTP/1.1 302 Found\r\nLocation: "+target.URL()+"/steal\r\nContent-Length: 0\r\n\r\n", false)
	gw, _ := startGateway(t, up.URL(), nil)
	got, closed := rawRoundTrip(t, gw, spdyUpgrade, true)
	if !strings.HasPrefix(got, "HTTP/1.1 500 ") || !closed {
		t.Fatalf("got %q (closed=%v), want a 500 and a closed connection", got, closed)
	}
	st := decodeBody(t, got)
	if st.Message != "invalid upgrade response: status code 302" {
		t.Errorf("message %q", st.Message)
	}
	if reqs, _ := target.requests(); len(reqs) != 0 {
		t.Errorf("redirect target got %d requests", len(reqs))
	}
}

// TestSpliceAfter101 forwards the 101 and then bytes both ways.
func TestSpliceAfter101(t *testing.T) {
	up := newScriptedUpstream(t, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n", true)
	gw, _ := startGateway(t, up.URL(), nil)
	c, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	// The bytes after the head travel in the same write, as a client may send them.
	payload := "\x00\x00\x00\x01\x00\x00\x00\x04ping"
	io.WriteString(c, spdyUpgrade+payload)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("X-Stream-Protocol-Version") != "v4.channel.k8s.io" {
		t.Fatalf("response %v %v", resp, err)
	}
	echo := make([]byte, len(payload))
	if _, err := io.ReadFull(br, echo); err != nil || string(echo) != payload {
		t.Fatalf("echo %q %v", echo, err)
	}
}

// TestOnlySPDYAndWebSocketUpgrade refuses other upgrades before contacting
// the upstream (kubernetes#72112).
func TestRefusals(t *testing.T) {
	up := newScriptedUpstream(t, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", false)
	gw, _ := startGateway(t, up.URL(), &gateway.Options{MaxHeaderBytes: 4096})
	for _, tc := range []struct {
		name, raw string
		code      int
		msg       string
	}{
		{"h2c", strings.Replace(spdyUpgrade, "Upgrade: SPDY/3.1", "Upgrade: h2c", 1), 400,
			"upgrade to h2c is not allowed: only SPDY/3.1 and websocket"},
		{"not an upgrade", "POST /api/v1/namespaces/default/pods/p/exec?command=true&stdout=true HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
			400, "Upgrade request required"},
		{"method", strings.Replace(spdyUpgrade, "POST", "PUT", 1), 405,
			"the server does not allow this method on the requested resource"},
		{"headers too large", strings.Replace(spdyUpgrade, "Host: 127.0.0.1\r\n", "Host: 127.0.0.1\r\nX-Pad: "+strings.Repeat("a", 5000)+"\r\n", 1), 431,
			"request headers of"},
		{"other path", "GET /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 404,
			"the gateway does not serve /api/v1/namespaces/default/secrets"},
		{"cross-site websocket", "GET /api/v1/namespaces/default/pods/p/exec?command=sh&stdin=true HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
			"Origin: https://evil.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n", 403,
			`origin "https://evil.example" is not allowed to open sessions`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := rawRoundTrip(t, gw, tc.raw, false)
			st := decodeBody(t, got)
			if int(st.Code) != tc.code || !strings.HasPrefix(st.Message, tc.msg) {
				t.Errorf("got %d %q, want %d %q", st.Code, st.Message, tc.code, tc.msg)
			}
		})
	}
	if reqs, _ := up.requests(); len(reqs) != 0 {
		t.Errorf("upstream got %d requests, want none", len(reqs))
	}
}

func decodeBody(t *testing.T, raw string) status.Status {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	var st status.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	if int(st.Code) != resp.StatusCode {
		t.Errorf("status code %d, body code %d", resp.StatusCode, st.Code)
	}
	return st
}

// TestUpstreamHeaders: the client's credentials and impersonation headers
// never reach the upstream; the gateway's own credentials and, with
// Impersonate, the caller's identity do. A caller that asks to impersonate
// (Impersonate-User) without being allowed to (no RBAC here, and the
// upstream cannot review) is refused by the gateway and reaches nothing.
func TestUpstreamHeaders(t *testing.T) {
	up := newScriptedUpstream(t, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", false)
	tokens, _ := gateway.ParseTokens(strings.NewReader("tok,alice,1,\"devs,ops\"\n"))
	gw, _ := startGateway(t, up.URL(), &gateway.Options{Tokens: tokens, Impersonate: true,
		UpstreamHeader: http.Header{"Authorization": {"Bearer gateway-credential"}}})
	raw := strings.Replace(spdyUpgrade, "Host: 127.0.0.1\r\n", "Host: 127.0.0.1\r\nAuthorization: Bearer tok\r\nImpersonate-User: root\r\n"+
		"Impersonate-Group: system:masters\r\nCookie: session=1\r\n", 1)
	got, _ := rawRoundTrip(t, gw, raw, true)
	if !strings.HasPrefix(got, "HTTP/1.1 403") || !strings.Contains(got, `cannot impersonate resource \"users\"`) {
		t.Fatalf("impersonation without permission: got %q", got)
	}
	reqs, _ := up.requests()
	for _, r := range reqs {
		if r.Header.Get("Upgrade") != "" || r.Header.Get("Impersonate-User") == "root" {
			t.Errorf("upstream saw %s %s as %q", r.Method, r.URL, r.Header.Get("Impersonate-User"))
		}
	}
	before := len(reqs)
	raw = strings.Replace(spdyUpgrade, "Host: 127.0.0.1\r\n", "Host: 127.0.0.1\r\nAuthorization: Bearer tok\r\nImpersonate_User: root\r\n"+
		"X-Remote-User: root\r\nCookie: session=1\r\n", 1)
	if got, _ := rawRoundTrip(t, gw, raw, true); !strings.HasPrefix(got, "HTTP/1.1 403") {
		t.Fatalf("got %q", got)
	}
	reqs, _ = up.requests()
	if len(reqs) != before+1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs)-before)
	}
	h := reqs[before].Header
	if h.Get("Authorization") != "Bearer gateway-credential" || h.Get("Impersonate-User") != "alice" ||
		strings.Join(h.Values("Impersonate-Group"), ",") != "devs,ops" || h.Get("Cookie") != "" || h.Get("X-Remote-User") != "" {
		t.Errorf("upstream headers %v", h)
	}
}
