package gateway_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/websocket"
)

// TestInProcess runs the splice's tests against a node served in process
// (Options.InProcess, as porthole serve does): every byte and exit status,
// the audit, the recording, the limits, the last word on a cut and the
// shutdown must be the same without the connection pair.
func TestInProcess(t *testing.T) {
	inProcess = true
	defer func() { inProcess = false }()
	runCounted(t, &inProcessServed, "no request reached the node in process", []namedTest{
		{"Exec", TestExecThroughGateway},
		{"EndsWithReason", TestSplicedSessionEndsWithReason},
		{"SPDYGetsStatus", TestSplicedSPDYSessionGetsStatus},
		{"Recording", TestRecordingSameOnEveryWire},
		{"RecordingSizes", TestRecordingKeepsSizes},
		{"ShutdownSideBySide", TestShutdownCutsSessionsSideBySide},
		{"KeepAlive", TestKeepAlivePings},
		{"Audit", TestAuditMetricsAndRecording},
		{"Limits", TestLimitsEndOnlyThatSession},
		{"SessionLimits", TestSessionLimits},
		{"VanishedClient", TestVanishedClientEndsSession},
		{"Refusals", testInProcessRefusals},
		{"EarlyBytes", testInProcessEarlyBytes},
		{"NoPairNoLeak", testInProcessNoPairNoLeak},
		{"KubeletPath", testInProcessKubeletPath},
	})
}

// namedTest is one test that TestInProcess or TestInProcessSessions runs
// again on its in-process path.
type namedTest struct {
	name string
	test func(*testing.T)
}

// runCounted runs each test and fails the one that left counter as it
// was: it never took the path under test (why says which).
func runCounted(t *testing.T, counter *atomic.Int64, why string, tests []namedTest) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := counter.Load()
			tc.test(t)
			if counter.Load() == before && !t.Failed() {
				t.Error(why)
			}
		})
	}
}

// testInProcessRefusals: what the node answers instead of upgrading reaches
// the client as it does from a dialled node: a Status (pod not found), the
// raw 403 of a WebSocket server that speaks none of the offered
// subprotocols, a 400 for a request that is no upgrade.
func testInProcessRefusals(t *testing.T) {
	node := startNode(t)
	inProcess = false
	dialled, _ := startGateway(t, node, nil)
	inProcess = true
	local, _ := startGateway(t, node, nil)
	for _, tc := range []struct {
		name, path string
		header     http.Header
	}{
		{"no such pod", "/api/v1/namespaces/default/pods/nope/exec?command=true&stdout=true",
			http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
				"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {protocol.V5}}},
		{"no common subprotocol", "/api/v1/namespaces/default/pods/p/exec?command=true&stdout=true",
			http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
				"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"nonsense.k8s.io"}}},
		{"spdy without streams protocol", "/api/v1/namespaces/default/pods/p/exec?command=true&stdout=true",
			http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode, wantBody := rawRequest(t, dialled, tc.path, tc.header)
			gotCode, gotBody := rawRequest(t, local, tc.path, tc.header)
			if wantCode < 400 {
				t.Fatalf("dialled node answered %d %q: not a refusal", wantCode, wantBody)
			}
			if gotCode != wantCode || gotBody != wantBody {
				t.Errorf("in process: %d %q; dialled: %d %q", gotCode, gotBody, wantCode, wantBody)
			}
		})
	}
}

// rawRequest sends one GET with header on a fresh connection and returns
// the answer's status and body.
func rawRequest(t *testing.T, base, path string, header http.Header) (int, string) {
	t.Helper()
	resp, body := rawResponse(t, base, path, header)
	return resp.StatusCode, body
}

// rawResponse is rawRequest's whole answer: its head, and its body read.
func rawResponse(t *testing.T, base, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(base + path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: header, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// testInProcessEarlyBytes: bytes a client sends right behind its request,
// before the 101 (they land in net/http's buffer), reach the node first.
// The client writes its handshake and a stdin message and its close signal
// in one write, then reads cat's echo, and the exit status.
func testInProcessEarlyBytes(t *testing.T) {
	gw, _ := startGateway(t, startNode(t), nil)
	u, _ := url.Parse(execURL(gw, []string{"cat"}, "stdin", "stdout"))
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	payload := make([]byte, 3000)
	rand.Read(payload)
	var msg []byte
	msg = fmt.Appendf(msg, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		u.RequestURI(), u.Host, protocol.V5)
	msg = append(msg, maskedBinary(append([]byte{channel.Stdin}, payload...))...)
	msg = append(msg, maskedBinary([]byte{channel.CloseSignal, channel.Stdin})...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	var out []byte
	var status string
	for status == "" {
		op, p := readFrame(t, br)
		if op == 0xA {
			// An unsolicited pong: the node's probe of a client whose
			// data waits (a loaded machine starts cat late). A
			// heartbeat that asks for no answer (RFC 6455 5.5.3).
			continue
		}
		if op != 2 || len(p) == 0 {
			t.Fatalf("frame opcode %d, %d bytes, before the status", op, len(p))
		}
		switch p[0] {
		case channel.Stdout:
			out = append(out, p[1:]...)
		case channel.Error:
			status = string(p[1:])
		}
	}
	if sha256.Sum256(out) != sha256.Sum256(payload) {
		t.Errorf("echo: %d bytes, not the %d sent", len(out), len(payload))
	}
	if !strings.Contains(status, `"status":"Success"`) {
		t.Errorf("status %q", status)
	}
}

// maskedBinary is a client's binary frame (FIN, masked) carrying p.
func maskedBinary(p []byte) []byte {
	f := []byte{0x82}
	switch {
	case len(p) < 126:
		f = append(f, 0x80|byte(len(p)))
	default:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(len(p)))
	}
	key := []byte{1, 2, 3, 4}
	f = append(f, key...)
	for i, b := range p {
		f = append(f, b^key[i%4])
	}
	return f
}

// readFrame reads one unmasked server frame (no fragmentation expected).
func readFrame(t *testing.T, r *bufio.Reader) (opcode byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("frame header: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatalf("frame payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// testInProcessNoPairNoLeak: an idle session served in process holds two
// sockets in this process (the client's and the gateway's accepted one),
// not four as over a dialled upstream, and once sessions end their
// goroutines and descriptors are gone.
func testInProcessNoPairNoLeak(t *testing.T) {
	const sessions = 8
	gw, _ := startGateway(t, startNode(t), &gateway.Options{KeepAlive: -1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One session first, so one-off goroutines and descriptors exist.
	wsExec(t, execURL(gw, []string{"true"}, "stdout"), nil, nil)
	g0, s0, fd0 := runtime.NumGoroutine(), countFDs(t, "socket:"), countFDs(t, "")
	var (
		conns    []*websocket.Conn
		statuses []<-chan []byte
	)
	for range sessions {
		conn := wsCat(t, ctx, gw)
		conns = append(conns, conn)
		streamtest.ReadAll(conn.Channel(channel.Stdout))
		statuses = append(statuses, streamtest.ReadAll(conn.Channel(channel.Error)))
	}
	if per := float64(countFDs(t, "socket:")-s0) / sessions; per > 2 {
		t.Errorf("%.2f sockets per idle session in this process, want 2 (client and gateway, no pair to the node)", per)
	}
	for i, c := range conns {
		c.Channel(channel.Stdin).CloseWrite()
		if st := string(<-statuses[i]); !strings.Contains(st, `"status":"Success"`) {
			t.Errorf("status %q", st)
		}
		<-c.Done()
		if err := c.Err(); err != nil {
			t.Errorf("session: %v", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, fd := runtime.NumGoroutine(), countFDs(t, "")
		if g <= g0 && fd <= fd0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the sessions ended: %d goroutines (before: %d), %d descriptors (before: %d)", g, g0, fd, fd0)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countFDs counts this process's descriptors whose target starts with
// prefix ("" for all).
func countFDs(t *testing.T, prefix string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("descriptors: %v", err)
	}
	n := 0
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// testInProcessKubeletPath: a session on the kubelet's path (which ends
// its session on a route of its own) runs through the node in process
// too, delivers its output and exit status, and is audited once, when it
// ends, with the bytes it moved.
func testInProcessKubeletPath(t *testing.T) {
	var log syncBuffer
	gw, g := startGateway(t, startNode(t), &gateway.Options{KubeletNode: "n", Audit: audit.NewJSONLog(&log)})
	out, _, st := wsExec(t, gw+"/exec/default/p/c?command=sh&command=-c&command=echo+hi%3B+exit+3&output=1", nil, nil)
	if string(out) != "hi\n" || !strings.Contains(st, `"reason":"ExitCode","message":"3"`) {
		t.Errorf("stdout %q, status %q", out, st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil { // waits for the session's end
		t.Fatal(err)
	}
	var ends []audit.Event
	for _, e := range log.events(t) {
		if e.Stage == audit.StageEnd {
			ends = append(ends, e)
		}
	}
	if len(ends) != 1 || ends[0].Outcome != "ok" || ends[0].BytesOut == 0 {
		t.Errorf("end records %+v, want one, ok, with the bytes out", ends)
	}
}

// TestInProcessSessions runs the bridged sessions' tests (resumable,
// watched and joined, moderated) against a node in process through
// in-process sessions (Options.InProcessSessions, as porthole serve does):
// bytes, stdin, cuts and resumes, sizes, statuses, refusals and notices
// must be what they are over a dialled wire.
func TestInProcessSessions(t *testing.T) {
	inProcessSessions = true
	defer func() { inProcessSessions = false }()
	runCounted(t, &sessionsServed, "no session ran on the node in process", []namedTest{
		{"OutputAfterCut", TestResumeOutputAfterCut},
		{"StdinAfterCut", TestResumeStdinAfterCut},
		{"StdinFlood", TestResumeStdinFlood},
		{"RefusedAndExpired", TestResumeRefusedAndExpired},
		{"TerminalSize", TestResumeTerminalSize},
		{"FinishedSession", TestResumeFinishedSession},
		{"ByQuery", TestResumeByQuery},
		{"WatchJoin", TestSessionsWatchJoin},
		{"Moderated", TestModeratedSession},
		{"ResumableOwnerTold", TestSessionsResumableOwnerTold},
		{"Refusals", testInProcessSessionRefusals},
	})
}

// testInProcessSessionRefusals: what the node refuses before a resumable
// session starts reaches the client as it does from a dialled node.
func testInProcessSessionRefusals(t *testing.T) {
	node := startNode(t)
	tokens, err := gateway.ParseTokens(strings.NewReader(resumeTokens))
	if err != nil {
		t.Fatal(err)
	}
	opts := &gateway.Options{Tokens: tokens, SessionResumeGrace: time.Minute}
	inProcessSessions = false
	dialled, _ := startGateway(t, node, opts)
	inProcessSessions = true
	local, _ := startGateway(t, node, opts)
	offer := func() http.Header {
		return http.Header{"Authorization": {"Bearer alice-token"},
			"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {protocol.ResumeV5 + ", " + protocol.V5}}
	}
	for _, tc := range []struct{ name, path string }{
		{"no such pod", "/api/v1/namespaces/default/pods/nope/exec?command=true&stdout=true"},
		{"no such container", "/api/v1/namespaces/default/pods/p/exec?command=true&stdout=true&container=nope"},
		{"no command", "/api/v1/namespaces/default/pods/p/exec?stdout=true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantBody := rawResponse(t, dialled, tc.path, offer())
			got, gotBody := rawResponse(t, local, tc.path, offer())
			if want.StatusCode < 400 {
				t.Fatalf("dialled node answered %d %q: not a refusal", want.StatusCode, wantBody)
			}
			if got.StatusCode != want.StatusCode || gotBody != wantBody {
				t.Errorf("in process: %d %q; dialled: %d %q", got.StatusCode, gotBody, want.StatusCode, wantBody)
			}
			for _, h := range []string{"Content-Type", "X-Content-Type-Options"} {
				if g, w := got.Header.Get(h), want.Header.Get(h); g != w || w == "" {
					t.Errorf("%s: in process %q, dialled %q", h, g, w)
				}
			}
		})
	}
}
