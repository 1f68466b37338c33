package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/transport/spdy"
)

// TestPortForwardStreamHeaders scripts the server side with the SPDY
// transport alone and checks what the client puts on the wire: per
// connection an error stream, then a data stream, both with the remote port
// and one request ID counting from 0 across ports; the error stream
// half-closed at once; data half-closed at local EOF. A message on the
// error stream ends that connection and is reported.
func TestPortForwardStreamHeaders(t *testing.T) {
	conns := make(chan *spdy.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{Protocols: []string{portforward.Name}})
		if err == nil {
			conns <- c
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	fr, ports := startForward(t, c.PortForward, &PortForwardOptions{Pod: "p", Wire: WireSPDY,
		Addresses: []string{"127.0.0.1"}, Ports: []ForwardedPort{{Remote: 80}, {Remote: 443}}})
	var server *spdy.Conn
	select {
	case server = <-conns:
	case <-time.After(testTimeout):
		t.Fatal("no session")
	}
	defer server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	for i, p := range []ForwardedPort{ports[0], ports[1], ports[0]} {
		local, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(p.Local)))
		if err != nil {
			t.Fatal(err)
		}
		errs, data := acceptPair(t, ctx, server)
		for _, s := range []struct {
			st  *spdy.Stream
			typ string
		}{{errs, "error"}, {data, "data"}} {
			h := s.st.Headers()
			want := fmt.Sprintf("streamtype=%s port=%d requestid=%d", s.typ, p.Remote, i)
			got := fmt.Sprintf("streamtype=%s port=%s requestid=%s", h.Get("streamtype"), h.Get("port"), h.Get("requestid"))
			if got != want {
				t.Errorf("connection %d: got headers %s, want %s", i, got, want)
			}
		}
		if b, err := io.ReadAll(errs); err != nil || len(b) != 0 {
			t.Errorf("error stream from the client: %q, %v; want an immediate EOF", b, err)
		}
		io.WriteString(local, "up")
		local.(*net.TCPConn).CloseWrite()
		if b, err := io.ReadAll(data); err != nil || string(b) != "up" {
			t.Errorf("data from the client: %q, %v; want \"up\" then EOF", b, err)
		}
		if i < 2 {
			io.WriteString(data, "down")
			data.CloseWrite()
			errs.CloseWrite()
			if b, err := io.ReadAll(local); err != nil || string(b) != "down" {
				t.Errorf("local read: %q, %v; want \"down\" then EOF", b, err)
			}
		} else {
			// A failure reported on the error stream ends the connection.
			io.WriteString(errs, "boom")
			errs.Reset()
			data.Reset()
			if b, _ := io.ReadAll(local); len(b) != 0 {
				t.Errorf("local read after the error: %q", b)
			}
			fr.errOut.await(t, fmt.Sprintf("an error occurred forwarding %d -> 80: boom\n", p.Local), 1)
		}
		local.Close()
	}
}

func acceptPair(t *testing.T, ctx context.Context, server *spdy.Conn) (errs, data *spdy.Stream) {
	t.Helper()
	for range 2 {
		s, err := server.Accept(ctx)
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		switch s.Headers().Get("streamtype") {
		case "error":
			if data != nil {
				t.Error("data stream came before the error stream")
			}
			errs = s
		case "data":
			data = s
		}
	}
	if errs == nil || data == nil {
		t.Fatal("not one error and one data stream")
	}
	return errs, data
}

func TestParseAddresses(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		err  bool
	}{
		{nil, "tcp4 127.0.0.1 lh, tcp6 ::1 lh", false},
		{[]string{"localhost", "127.0.0.1"}, "tcp4 127.0.0.1 lh, tcp6 ::1 lh", false},
		{[]string{"0.0.0.0", "::"}, "tcp4 0.0.0.0, tcp6 ::", false},
		{[]string{"::ffff:10.0.0.1"}, "tcp4 10.0.0.1", false},
		{[]string{"10.0.0.1", "10.0.0.1"}, "tcp4 10.0.0.1", false},
		{[]string{"example.com"}, "", true},
	} {
		got, err := parseAddresses(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("parseAddresses(%q): err %v", tc.in, err)
			continue
		}
		var parts []string
		for _, a := range got {
			s := a.network + " " + a.host
			if a.localhost {
				s += " lh"
			}
			parts = append(parts, s)
		}
		if s := strings.Join(parts, ", "); s != tc.want {
			t.Errorf("parseAddresses(%q) = %s, want %s", tc.in, s, tc.want)
		}
	}
}

// TestListenPort: the first address picks the port and the others share
// it; a localhost member that cannot bind is a warning when the other
// bound; an explicit address that cannot bind fails the port.
func TestListenPort(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := uint16(taken.Addr().(*net.TCPAddr).Port)
	lh, _ := parseAddresses(nil)

	lns, bound, warnings, err := listenPort(ForwardedPort{Remote: 80}, lh)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lns {
		if got := uint16(l.ln.Addr().(*net.TCPAddr).Port); got != bound.Local {
			t.Errorf("%s bound port %d, want %d", l.ln.Addr(), got, bound.Local)
		}
		l.ln.Close()
	}
	if len(lns)+len(warnings) != 2 {
		t.Errorf("localhost: %d listeners and %d warnings, want 2 in all", len(lns), len(warnings))
	}

	// 127.0.0.1 taken: ::1 alone carries localhost (when this host has IPv6).
	lns, _, warnings, err = listenPort(ForwardedPort{Local: takenPort, Remote: 80}, lh)
	if ln6, err6 := net.Listen("tcp6", "[::1]:0"); err6 == nil {
		ln6.Close()
		if err != nil || len(lns) != 1 || len(warnings) != 1 {
			t.Errorf("127.0.0.1 taken: %d listeners, warnings %v, err %v; want ::1 and a warning", len(lns), warnings, err)
		}
	} else if err == nil {
		t.Errorf("no IPv6 and 127.0.0.1 taken: got no error")
	}
	for _, l := range lns {
		l.ln.Close()
	}

	explicit, _ := parseAddresses([]string{"127.0.0.1"})
	if _, _, _, err := listenPort(ForwardedPort{Local: takenPort, Remote: 80}, explicit); err == nil {
		t.Error("explicit address taken: got no error")
	}
}

// TestPortForwardNoPortBinds: every port taken is an error (after the
// first connection), like kubectl's.
func TestPortForwardNoPortBinds(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{Protocols: []string{portforward.Name}})
		if err == nil {
			<-c.Done()
			c.Close()
		}
	}))
	defer srv.Close()
	var errOut strings.Builder
	c := newTestClient(t, srv.URL)
	err = c.PortForward(context.Background(), &PortForwardOptions{Pod: "p", Wire: WireSPDY, Events: PrintEvents(nil, &errOut),
		Addresses: []string{"127.0.0.1"}, Ports: []ForwardedPort{{Local: uint16(taken.Addr().(*net.TCPAddr).Port), Remote: 80}}})
	if err == nil || !strings.Contains(err.Error(), "unable to listen on any of the requested ports") {
		t.Errorf("got %v, want unable to listen on any of the requested ports", err)
	}
	if !strings.Contains(errOut.String(), "Unable to listen on port") {
		t.Errorf("stderr %q lacks Unable to listen on port", errOut.String())
	}
}

func TestJitteredBackoff(t *testing.T) {
	for n, hi := range map[int]time.Duration{0: reconnectBase, 1: 2 * reconnectBase, 3: 8 * reconnectBase, 30: reconnectCap, 1000: reconnectCap} {
		for range 100 {
			if d := jitteredBackoff(n); d < hi/2 || d > hi {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, hi/2, hi)
			}
		}
	}
}

// TestPortForwardDataStreamRefused: a server that resets the data stream
// without answering it (the kubelet's library does when the forward fails
// first) still has its error stream read, and its message reported.
func TestPortForwardDataStreamRefused(t *testing.T) {
	conns := make(chan *spdy.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One stream at a time: the data stream is refused with RST_STREAM.
		c, err := spdy.Upgrade(w, r, &spdy.UpgradeOptions{Protocols: []string{portforward.Name}, MaxStreams: 1})
		if err == nil {
			conns <- c
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	fr, ports := startForward(t, c.PortForward, &PortForwardOptions{Pod: "p", Wire: WireSPDY,
		Addresses: []string{"127.0.0.1"}, Ports: []ForwardedPort{{Remote: 80}}})
	server := <-conns
	defer server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	local, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(ports[0].Local)))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	errs, err := server.Accept(ctx)
	if err != nil || errs.Headers().Get("streamtype") != "error" {
		t.Fatalf("accept: %v, %v", errs, err)
	}
	io.WriteString(errs, "forward failed early")
	errs.CloseWrite()
	fr.errOut.await(t, fmt.Sprintf("an error occurred forwarding %d -> 80: forward failed early\n", ports[0].Local), 1)
	if b, _ := io.ReadAll(local); len(b) != 0 {
		t.Errorf("local read: %q", b)
	}
}
