package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/freezer"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

const resumeTokens = `alice-token,alice,1,devs
bob-token,bob,2,devs
`

// auditLog keeps every audit record.
type auditLog struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (l *auditLog) Record(ev audit.Event) error {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
	return nil
}

func (l *auditLog) find(f func(audit.Event) bool) *audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.evs {
		if f(l.evs[i]) {
			return &l.evs[i]
		}
	}
	return nil
}

// resumeGateway serves a gateway with resume on in front of a node, and a
// cutting relay in front of the gateway; it returns the relay's URL.
func resumeGateway(t *testing.T, wire protocol.Wire, grace time.Duration) (string, *freezer.Relay, *auditLog) {
	t.Helper()
	node := startNode(t)
	tokens, err := gateway.ParseTokens(strings.NewReader(resumeTokens))
	if err != nil {
		t.Fatal(err)
	}
	log := &auditLog{}
	gw, _ := startGateway(t, node, &gateway.Options{UpstreamWire: wire, Tokens: tokens, SessionResumeGrace: grace, Audit: log})
	u, _ := url.Parse(gw)
	relay := freezer.New(t, u.Host)
	return "http://" + relay.Addr(), relay, log
}

func tokenClient(t *testing.T, host, token string) *client.Client {
	t.Helper()
	c, err := client.New(&client.Config{Host: host, TokenSource: func(context.Context) (string, error) { return token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cutAfter passes writes to w and, once more than n bytes went through,
// cuts the relay's connections (stall, then reset) inside that Write, so
// the client's connection breaks mid-output.
type cutAfter struct {
	w     io.Writer
	n     int
	seen  int
	relay *freezer.Relay
	cuts  int
	// stalled, when set, is closed as the stall begins.
	stalled chan struct{}
}

func (c *cutAfter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.seen += n
	if c.cuts == 0 && c.seen > c.n {
		c.cuts++
		if c.stalled != nil {
			close(c.stalled)
		}
		c.relay.Cut(300 * time.Millisecond)
	}
	return n, err
}

// notices collects the client's resume notices.
type notices struct {
	mu    sync.Mutex
	lines []string
}

func (n *notices) add(l string) {
	n.mu.Lock()
	n.lines = append(n.lines, l)
	n.mu.Unlock()
}

func (n *notices) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.lines, "|")
}

// TestResumeOutputAfterCut: 32 MiB of output, the client's connection cut
// (stalled, then reset) a quarter of the way through; the client resumes
// and every byte arrives once, and the exit code is exact, on both
// upstream wires.
func TestResumeOutputAfterCut(t *testing.T) {
	data := make([]byte, 32<<20)
	rand.Read(data)
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	for _, tc := range []struct {
		wire protocol.Wire
		exit int
	}{{protocol.WebSocket, 42}, {protocol.SPDY, 0}, {protocol.SPDY, 42}, {protocol.WebSocket, 0}} {
		t.Run(fmt.Sprintf("%s-exit%d", tc.wire, tc.exit), func(t *testing.T) {
			host, relay, log := resumeGateway(t, tc.wire, time.Minute)
			c := tokenClient(t, host, "alice-token")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			h := sha256.New()
			out := &cutAfter{w: h, n: 8 << 20, relay: relay}
			var stderr bytes.Buffer
			var ns notices
			err := c.Exec(ctx, &client.ExecOptions{Pod: "p", Container: "c",
				Command: []string{"sh", "-c", "cat " + file + "; echo done >&2; exit " + strconv.Itoa(tc.exit)},
				StreamOptions: client.StreamOptions{Stdout: out, Stderr: &stderr,
					Resume: &client.ResumeOptions{Notify: ns.add}}})
			var exit *client.ExitError
			switch {
			case tc.exit == 0 && err != nil:
				t.Fatalf("exec: %v", err)
			case tc.exit != 0 && (!errors.As(err, &exit) || exit.Code != tc.exit):
				t.Fatalf("exec: %v, want exit code %d", err, tc.exit)
			}
			if out.cuts != 1 {
				t.Fatalf("the connection was cut %d times, want 1", out.cuts)
			}
			if out.seen != len(data) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("stdout: %d bytes, checksum mismatch=%v; want %d bytes", out.seen, !bytes.Equal(h.Sum(nil), want[:]), len(data))
			}
			if stderr.String() != "done\n" {
				t.Errorf("stderr %q", stderr.String())
			}
			if got := ns.String(); got != "connection lost, resuming session...|resumed" {
				t.Errorf("notices %q", got)
			}
			if log.find(func(e audit.Event) bool { return e.Stage == audit.StageResume && e.User == "alice" }) == nil {
				t.Error("no resume audit record")
			}
		})
	}
}

// TestResumeStdinAfterCut: stdin written before a cut and while the
// connection stalls (those bytes are lost on the wire with it) reaches the
// process once, in order.
func TestResumeStdinAfterCut(t *testing.T) {
	for _, wire := range []protocol.Wire{protocol.WebSocket, protocol.SPDY} {
		t.Run(string(wire), func(t *testing.T) {
			host, relay, _ := resumeGateway(t, wire, time.Minute)
			c := tokenClient(t, host, "alice-token")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			in := make([]byte, 6<<20)
			rand.Read(in)
			pr, pw := io.Pipe()
			stalled := make(chan struct{})
			go func() {
				pw.Write(in[:2<<20])
				<-stalled
				pw.Write(in[2<<20:])
				pw.Close()
			}()
			var echoed bytes.Buffer
			out := &cutAfter{w: &echoed, n: 1 << 20, relay: relay, stalled: stalled}
			var ns notices
			err := c.Exec(ctx, &client.ExecOptions{Pod: "p", Container: "c", Command: []string{"sh", "-c", "cat; exit 7"},
				StreamOptions: client.StreamOptions{Stdin: pr, Stdout: out,
					Resume: &client.ResumeOptions{Notify: ns.add}}})
			var exit *client.ExitError
			if !errors.As(err, &exit) || exit.Code != 7 {
				t.Fatalf("exec: %v, want exit code 7", err)
			}
			if out.cuts != 1 || ns.String() != "connection lost, resuming session...|resumed" {
				t.Fatalf("cuts %d, notices %q", out.cuts, ns.String())
			}
			if got := echoed.Bytes(); !bytes.Equal(got, in) {
				i := 0
				for i < len(got) && i < len(in) && got[i] == in[i] {
					i++
				}
				j := i
				for j < len(got) && got[j] != in[j] {
					j++
				}
				t.Fatalf("echoed %d bytes, want the %d written; first difference at %d to %d (found again in the input at %d; %x)", len(got), len(in), i, j, bytes.Index(in, got[i:min(len(got), i+64)]), got[i:min(len(got), i+16)])
			}
		})
	}
}

// TestResumeStdinFlood: 64 MiB of stdin through cat, no cut. The client's
// output acknowledgements travel behind its stdin, so the gateway must keep
// reading the client's connection however full the process's stdin is (the
// client keeps to protocol.ResumeStdinWindow): when it stopped reading, cat
// blocked on its output, the gateway's output buffer waited for
// acknowledgements stuck behind stdin, and the session stalled for good.
// The client pauses its output once, as a terminal or a pipe does, so that
// the gateway's output buffer fills.
func TestResumeStdinFlood(t *testing.T) {
	// The stall is between the client and the gateway: one upstream wire.
	for _, wire := range []protocol.Wire{protocol.WebSocket} {
		t.Run(string(wire), func(t *testing.T) {
			// No relay: its buffers would only make the stall take more.
			node := startNode(t)
			tokens, err := gateway.ParseTokens(strings.NewReader(resumeTokens))
			if err != nil {
				t.Fatal(err)
			}
			host, _ := startGateway(t, node, &gateway.Options{UpstreamWire: wire, Tokens: tokens, SessionResumeGrace: time.Minute})
			c := tokenClient(t, host, "alice-token")
			// Long enough for 64 MiB under the race detector on a loaded
			// machine; the stall it guards against never ends.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			in := make([]byte, 64<<20)
			rand.Read(in)
			out := sha256.New()
			n := &countingWriter{w: out, pauseAt: 2 << 20}
			var ns notices
			err = c.Exec(ctx, &client.ExecOptions{Pod: "p", Container: "c", Command: []string{"cat"},
				StreamOptions: client.StreamOptions{Stdin: bytes.NewReader(in), Stdout: n,
					Resume: &client.ResumeOptions{Notify: ns.add}}})
			if err != nil {
				t.Fatalf("exec: %v (notices %q, %d bytes echoed)", err, ns.String(), n.n)
			}
			if want := sha256.Sum256(in); n.n != len(in) || !bytes.Equal(out.Sum(nil), want[:]) || ns.String() != "" {
				t.Fatalf("echoed %d bytes (sha256 match %v), want %d; notices %q", n.n, bytes.Equal(out.Sum(nil), want[:]), len(in), ns.String())
			}
		})
	}
}

// countingWriter counts what it passes on, and pauses once past pauseAt.
type countingWriter struct {
	w       io.Writer
	n       int
	pauseAt int
	paused  bool
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if !c.paused && c.n > c.pauseAt {
		c.paused = true
		time.Sleep(time.Second)
	}
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// dialResumable opens a resumable exec as a raw WebSocket client.
func dialResumable(t *testing.T, ctx context.Context, u, token string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	v5, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	return websocket.Dial(ctx, u, &websocket.DialOptions{Versions: []protocol.Version{protocol.ResumeVersion, v5},
		Channels: protocol.ResumeChannels, Header: h})
}

// controlLines reads conn's control channel for as long as it lives (a
// client must: an unread channel stops the connection) and hands on its
// lines.
func controlLines(conn *websocket.Conn) <-chan string {
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		br := bufio.NewReader(conn.Channel(protocol.ResumeControl))
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			select {
			case lines <- strings.TrimSuffix(l, "\n"):
			default: // nobody reads them: dropped
			}
		}
	}()
	return lines
}

// TestResumeRefusedAndExpired: another user's resume is refused (403) and
// audited, an unknown id gets 404, and a parked session whose grace runs
// out ends its process.
func TestResumeRefusedAndExpired(t *testing.T) {
	host, relay, log := resumeGateway(t, protocol.WebSocket, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	u := execURL(host, []string{"sh", "-c", "echo $$ > " + pidFile + "; echo up; exec sleep 600"}, "stdout")
	conn, resp, err := dialResumable(t, ctx, u, "alice-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	controlLines(conn)
	id := resp.Header.Get(protocol.HeaderSession)
	if conn.Protocol() != protocol.ResumeV5 || len(id) != 32 {
		t.Fatalf("protocol %q, session id %q", conn.Protocol(), id)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(conn.Channel(1), buf); err != nil || string(buf) != "up\n" {
		t.Fatalf("read %q %v", buf, err)
	}
	b, err := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		t.Fatalf("pid file: %v %v", err, perr)
	}

	refused := func(token, id string, code int) {
		t.Helper()
		c, _, err := dialResumable(t, ctx, u, token, http.Header{protocol.HeaderResume: {id}, protocol.HeaderResumeOffsets: {"stdout=3"}})
		var ue *stream.UpgradeError
		if err == nil {
			c.Close()
			t.Fatalf("resume of %q by %s accepted", id, token)
		}
		if !errors.As(err, &ue) || ue.StatusCode != code {
			t.Fatalf("resume of %q by %s: %v, want %d", id, token, err, code)
		}
	}
	refused("bob-token", id, http.StatusForbidden)
	if log.find(func(e audit.Event) bool { return e.Stage == audit.StageDenied && e.User == "bob" && e.Code == 403 }) == nil {
		t.Error("the refused resume was not audited")
	}
	refused("alice-token", "00000000000000000000000000000000", http.StatusNotFound)

	relay.Cut(100 * time.Millisecond)
	// The session is parked for a second, then ends its process.
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs after the grace", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	refused("alice-token", id, http.StatusNotFound)
	if log.find(func(e audit.Event) bool {
		return e.Stage == audit.StageEnd && e.User == "alice" && e.Outcome == "error"
	}) == nil {
		t.Error("no end record for the expired session")
	}
}

// seenWriter keeps what was written and closes seen once it contains want.
type seenWriter struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
}

func (w *seenWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if w.seen != nil && strings.Contains(w.b.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

func (w *seenWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestResumeTerminalSize: a terminal session goes on after a cut, and the
// size set while the connection was down reaches the process (the client
// sends its size again on the resumed connection).
func TestResumeTerminalSize(t *testing.T) {
	for _, wire := range []protocol.Wire{protocol.WebSocket, protocol.SPDY} {
		t.Run(string(wire), func(t *testing.T) {
			host, relay, _ := resumeGateway(t, wire, time.Minute)
			c := tokenClient(t, host, "alice-token")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sizes := make(chan resize.Size, 2)
			sizes <- resize.Size{Width: 80, Height: 24}
			out := &seenWriter{want: "24 80", seen: make(chan struct{})}
			seen := out.seen
			var ns notices
			done := make(chan error, 1)
			go func() {
				done <- c.Exec(ctx, &client.ExecOptions{Pod: "p", Container: "c",
					Command: []string{"sh", "-c", `stty size; while [ "$(stty size)" != "30 100" ]; do sleep 0.05; done; echo resized; exit 5`},
					StreamOptions: client.StreamOptions{Stdout: out, TTY: true, Sizes: sizes,
						Resume: &client.ResumeOptions{Notify: ns.add}}})
			}()
			select {
			case <-seen:
			case err := <-done:
				t.Fatalf("exec ended before the first size: %v, %q", err, out.String())
			}
			cut := make(chan struct{})
			go func() {
				relay.Cut(300 * time.Millisecond)
				close(cut)
			}()
			sizes <- resize.Size{Width: 100, Height: 30}
			<-cut
			err := <-done
			var exit *client.ExitError
			if !errors.As(err, &exit) || exit.Code != 5 {
				t.Fatalf("exec: %v, want exit code 5; output %q", err, out.String())
			}
			if !strings.Contains(out.String(), "resized") || ns.String() != "connection lost, resuming session...|resumed" {
				t.Fatalf("output %q, notices %q", out.String(), ns.String())
			}
		})
	}
}

// TestResumeFinishedSession: a client that acknowledged everything but
// missed the close frame resumes into the finished session and is closed
// cleanly at once, with no byte sent again.
func TestResumeFinishedSession(t *testing.T) {
	host, _, _ := resumeGateway(t, protocol.WebSocket, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := execURL(host, []string{"sh", "-c", "echo hi; exit 3"}, "stdout")
	conn, resp, err := dialResumable(t, ctx, u, "alice-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get(protocol.HeaderSession)
	controlLines(conn)
	out := streamtest.ReadAll(conn.Channel(1))
	// The status is whole once it parses; acknowledge everything then.
	chunks := make(chan []byte, 16)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 4096)
			n, err := conn.Channel(3).Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	var stb []byte
	for !json.Valid(stb) {
		b, ok := <-chunks
		if !ok {
			t.Fatalf("status ended at %q", stb)
		}
		stb = append(stb, b...)
	}
	off := protocol.FormatOffsets(protocol.Offsets{Stdout: 3, Error: int64(len(stb))})
	if _, err := conn.Channel(protocol.ResumeControl).Write([]byte(off + "\n")); err != nil {
		t.Fatal(err)
	}
	if got := <-out; string(got) != "hi\n" {
		t.Fatalf("stdout %q", got)
	}
	<-conn.Done()
	conn.Close()
	for range chunks {
	}
	if err := conn.Err(); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	if !strings.Contains(string(stb), `"ExitCode"`) || !strings.Contains(string(stb), `"3"`) {
		t.Fatalf("status %s", stb)
	}
	again, resp, err := dialResumable(t, ctx, u, "alice-token", http.Header{protocol.HeaderResume: {id}, protocol.HeaderResumeOffsets: {off}})
	if err != nil {
		t.Fatalf("resume of the finished session: %v", err)
	}
	rest, rst := streamtest.ReadAll(again.Channel(1)), streamtest.ReadAll(again.Channel(3))
	if o, s := <-rest, <-rst; len(o) != 0 || len(s) != 0 {
		t.Fatalf("sent again: stdout %q status %q", o, s)
	}
	<-again.Done()
	again.Close()
	if err := again.Err(); err != nil || resp.Header.Get(protocol.HeaderStdinOffset) != "0" {
		t.Fatalf("resumed connection: %v, stdin offset %q", err, resp.Header.Get(protocol.HeaderStdinOffset))
	}
}

// TestResumeFallsBackToSPDY: with the upstream wire unset, a resumable
// session whose upstream refuses WebSocket (as an API server before 1.30
// does for v5) runs on SPDY upstream instead of failing, and still
// resumes after a cut with every byte once and its exit code; a refusal of
// the caller is not retried on SPDY.
func TestResumeFallsBackToSPDY(t *testing.T) {
	var wsRefused, spdySeen atomic.Int32
	node := streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, &streamtest.NodeOptions{
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
					wsRefused.Add(1)
					http.Error(w, "websocket is not supported here", http.StatusBadRequest)
					return
				case r.Header.Get("Upgrade") != "":
					spdySeen.Add(1)
				}
				h.ServeHTTP(w, r)
			})
		}}).URL
	tokens, err := gateway.ParseTokens(strings.NewReader(resumeTokens))
	if err != nil {
		t.Fatal(err)
	}
	gw, _ := startGateway(t, node, &gateway.Options{Tokens: tokens, SessionResumeGrace: time.Minute})
	u, _ := url.Parse(gw)
	relay := freezer.New(t, u.Host)
	c := tokenClient(t, "http://"+relay.Addr(), "alice-token")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := make([]byte, 8<<20)
	rand.Read(data)
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	h := sha256.New()
	out := &cutAfter{w: h, n: 2 << 20, relay: relay}
	var ns notices
	err = c.Exec(ctx, &client.ExecOptions{Pod: "p", Container: "c",
		Command:       []string{"sh", "-c", "cat " + file + "; exit 9"},
		StreamOptions: client.StreamOptions{Stdout: out, Resume: &client.ResumeOptions{Notify: ns.add}}})
	var exit *client.ExitError
	if !errors.As(err, &exit) || exit.Code != 9 {
		t.Fatalf("exec: %v, want exit code 9", err)
	}
	if out.cuts != 1 || out.seen != len(data) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("cuts %d, stdout %d of %d bytes, checksum equal %v", out.cuts, out.seen, len(data), bytes.Equal(h.Sum(nil), want[:]))
	}
	if got := ns.String(); got != "connection lost, resuming session...|resumed" {
		t.Errorf("notices %q", got)
	}
	if wsRefused.Load() == 0 || spdySeen.Load() == 0 {
		t.Errorf("upstream saw %d WebSocket refusals and %d SPDY upgrades; want both", wsRefused.Load(), spdySeen.Load())
	}
}

// TestResumeByQuery: a browser, which can neither set headers on a
// WebSocket nor read the 101's, learns the session's id and the gateway's
// stdin count from the first control lines of each connection, and
// resumes with the id and offsets in the query.
func TestResumeByQuery(t *testing.T) {
	host, relay, _ := resumeGateway(t, protocol.WebSocket, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u := execURL(host, []string{"cat"}, "stdin", "stdout")
	conn, resp, err := dialResumable(t, ctx, u, "alice-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get(protocol.HeaderSession)
	next := func(lines <-chan string, n int) string {
		t.Helper()
		var got []string
		for range n {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("control channel ended after %q", got)
				}
				got = append(got, l)
			case <-ctx.Done():
				t.Fatalf("control lines %q, then nothing", got)
			}
		}
		return strings.Join(got, "\n") + "\n"
	}
	ctl := controlLines(conn)
	if got, want := next(ctl, 2), "session="+id+"\n\n"; got != want {
		t.Fatalf("first connection's control lines %q, want %q", got, want)
	}
	if _, err := conn.Channel(0).Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(conn.Channel(1), buf); err != nil || string(buf) != "abc" {
		t.Fatalf("echo %q: %v", buf, err)
	}
	if got := next(ctl, 1); got != "stdin=3\n" {
		t.Fatalf("stdin acknowledgement %q", got)
	}
	relay.Cut(0)
	<-conn.Done()
	conn.Close()

	q := url.Values{protocol.QueryResume: {id}, protocol.QueryResumeOffsets: {"stdout=3"}}
	again, _, err := dialResumable(t, ctx, u+"&"+q.Encode(), "alice-token", nil)
	if err != nil {
		t.Fatalf("resume by query: %v", err)
	}
	defer again.Close()
	if got, want := next(controlLines(again), 2), "session="+id+"\nstdin=3\n"; got != want {
		t.Fatalf("resumed connection's control lines %q, want %q", got, want)
	}
	rest := streamtest.ReadAll(again.Channel(1))
	chunks := make(chan []byte, 16)
	go func() {
		defer close(chunks)
		for {
			b := make([]byte, 4096)
			n, err := again.Channel(3).Read(b)
			if n > 0 {
				chunks <- b[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	if _, err := again.Channel(0).Write([]byte("def")); err != nil {
		t.Fatal(err)
	}
	if err := again.Channel(0).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// The status is whole once it parses: acknowledge everything then.
	var stb []byte
	for !json.Valid(stb) {
		b, ok := <-chunks
		if !ok {
			t.Fatalf("status ended at %q", stb)
		}
		stb = append(stb, b...)
	}
	if !strings.Contains(string(stb), `"Success"`) {
		t.Fatalf("status %s", stb)
	}
	if _, err := again.Channel(protocol.ResumeControl).Write([]byte(protocol.FormatOffsets(protocol.Offsets{Stdout: 6, Error: int64(len(stb))}) + "\n")); err != nil {
		t.Fatal(err)
	}
	if out := <-rest; string(out) != "def" {
		t.Fatalf("stdout after the resume %q, want \"def\"", out)
	}
	<-again.Done()
	for range chunks {
	}
	if err := again.Err(); err != nil {
		t.Fatalf("the finished session's connection: %v", err)
	}

	// Another user's resume by query is refused as by header.
	_, resp, err = dialResumable(t, ctx, u+"&"+q.Encode(), "bob-token", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob's resume: %v", err)
	}
}

// TestResumeCleanCloseEnds: a client that closes its connection cleanly
// (close 1000) before the session's end is done with it: the session ends
// at once rather than being kept for the resume grace.
func TestResumeCleanCloseEnds(t *testing.T) {
	host, _, log := resumeGateway(t, protocol.WebSocket, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := dialResumable(t, ctx, execURL(host, []string{"sh", "-c", "echo up; exec sleep 60"}, "stdout"), "alice-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, conn.Channel(protocol.ResumeControl))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(conn.Channel(1), buf); err != nil || string(buf) != "up\n" {
		t.Fatalf("read %q %v", buf, err)
	}
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for log.find(func(e audit.Event) bool { return e.Stage == audit.StageEnd }) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the session did not end within 10 s of its client's clean close (parked for the grace?)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestResumeCancelEnds: a client that gives up on its session (its context
// cancelled: porthole exec interrupted by SIGINT or SIGTERM) ends it, as a
// clean close does. The session is not parked for the grace with its
// process running (`cat` with stdin open would run on for the minute), and
// the audit's end says the client left.
func TestResumeCancelEnds(t *testing.T) {
	host, _, log := resumeGateway(t, protocol.WebSocket, time.Minute)
	c := tokenClient(t, host, "alice-token")
	marker := fmt.Sprintf("resumecancel%d", time.Now().UnixNano()%1e9)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	echoed := make(chan struct{})
	out := writerFunc(func(p []byte) (int, error) {
		select {
		case <-echoed:
		default:
			close(echoed)
		}
		return len(p), nil
	})
	done := make(chan error, 1)
	go func() {
		done <- c.Exec(ctx, &client.ExecOptions{Pod: "p", Container: "c", Command: []string{"sh", "-c", "cat; : " + marker},
			StreamOptions: client.StreamOptions{Stdin: pr, Stdout: out, Resume: &client.ResumeOptions{}}})
	}()
	go pw.Write([]byte("up\n"))
	select {
	case <-echoed:
	case err := <-done:
		t.Fatalf("exec ended before the echo: %v", err)
	}
	streamtest.WaitProc(t, marker, true)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("exec: %v, want context.Canceled", err)
	}
	streamtest.WaitProc(t, marker, false)
	deadline := time.Now().Add(10 * time.Second)
	for log.find(func(e audit.Event) bool { return e.Stage == audit.StageEnd }) == nil {
		if time.Now().After(deadline) {
			t.Fatal("no end in the audit within 10 s of the client's cancel")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestResumeAckAhead: a client that acknowledges output it was never sent
// (a hostile one: acknowledged, unsent output would be dropped, and the
// connection's sender, behind the acknowledgement, crashed the gateway)
// loses its connection with the reason, and the gateway goes on serving.
func TestResumeAckAhead(t *testing.T) {
	// The aborted session is parked for its grace: a short one ends it.
	host, _, _ := resumeGateway(t, protocol.WebSocket, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u := execURL(host, []string{"echo", "hello"}, "stdout")
	conn, _, err := dialResumable(t, ctx, u, "alice-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	controlLines(conn)
	status := streamtest.ReadAll(conn.Channel(3))
	hello := make([]byte, 6)
	if _, err := io.ReadFull(conn.Channel(1), hello); err != nil || string(hello) != "hello\n" {
		t.Fatalf("output %q: %v", hello, err)
	}
	rest := streamtest.ReadAll(conn.Channel(1)) // read on: an unread channel stops the connection
	if _, err := conn.Channel(protocol.ResumeControl).Write([]byte(protocol.FormatOffsets(protocol.Offsets{Stdout: 1 << 20}) + "\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Done():
	case <-ctx.Done():
		t.Fatal("the connection that acknowledged unsent output lives on")
	}
	if err := conn.Err(); err == nil || !strings.Contains(err.Error(), "acknowledged stdout up to 1048576, past the 6 bytes sent") {
		t.Errorf("the connection ended with %v, want the reason", err)
	}
	<-status
	<-rest
	again, _, err := dialResumable(t, ctx, execURL(host, []string{"echo", "ok"}, "stdout"), "alice-token", nil)
	if err != nil {
		t.Fatalf("the gateway after the bad acknowledgement: %v", err)
	}
	defer again.Close()
	controlLines(again)
	streamtest.ReadAll(again.Channel(3))
	ok := make([]byte, 3)
	if _, err := io.ReadFull(again.Channel(1), ok); err != nil || string(ok) != "ok\n" {
		t.Errorf("a new session's output %q: %v", ok, err)
	}
}
