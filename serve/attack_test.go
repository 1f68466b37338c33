package serve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	mspdy "github.com/moby/spdystream/spdy"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/websocket"
)

// canary runs `echo canary` in the demo pod over WebSocket and fails the
// test unless the output and the Success status arrive: the server still
// serves after an attack.
func canary(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := base + "/api/v1/namespaces/default/pods/demo/exec?command=echo&command=canary&stdout=true"
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Versions: protocol.WebSocketVersions})
	if err != nil {
		t.Fatalf("canary dial: %v", err)
	}
	defer conn.Close()
	out, st := make(chan []byte, 1), make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(conn.Channel(channel.Stdout)); out <- b }()
	go func() { b, _ := io.ReadAll(conn.Channel(channel.Error)); st <- b }()
	if got := string(<-out); got != "canary\n" {
		t.Errorf("canary output %q", got)
	}
	if got := string(<-st); !strings.Contains(got, `"status":"Success"`) {
		t.Errorf("canary status %q", got)
	}
}

// rawExchange writes req on a fresh connection and returns the first
// response (nil if the server closed without one).
func rawExchange(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil
	}
	resp.Body.Close()
	return resp
}

// bombFrame is one SYN_STREAM whose header block inflates to 8 MiB of
// NUL-separated values from a few KB (zlib with the SPDY/3 dictionary).
func bombFrame(t *testing.T) []byte {
	var buf bytes.Buffer
	fr, err := mspdy.NewFramer(&buf, &buf)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for i := range 8 {
		h.Set(fmt.Sprintf("x-bomb-%d", i), strings.Repeat("\x00", 1<<20))
	}
	if err := fr.WriteFrame(&mspdy.SynStreamFrame{StreamId: 1, Headers: h}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// spdyBomb upgrades an exec request to SPDY and sends frame; it returns
// once the server has closed the connection.
func spdyBomb(t *testing.T, addr string, frame []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST /api/v1/namespaces/default/pods/demo/exec?command=true&stdout=true HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
		"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: %s\r\nContent-Length: 0\r\n\r\n", protocol.V4)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	c.Write(frame)
	io.Copy(io.Discard, br) // until the server closes
}

// TestAttacksLeaveServing: each attack against the default server is
// refused or cut, and a canary session works afterwards.
func TestAttacksLeaveServing(t *testing.T) {
	s, _ := startServer(t, Options{})
	waitDemo(t, s)
	base, addr := s.URL(), s.Addr().String()
	exec := "/api/v1/namespaces/default/pods/demo/exec?command=id&stdout=true"
	wsHead := "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n"
	for _, tc := range []struct {
		name, req string
		code      int // 0: the server may close without answering
	}{
		{"dns rebinding", "GET " + exec + " HTTP/1.1\r\nHost: attacker.example:7443\r\nOrigin: http://attacker.example:7443\r\n" + wsHead + "\r\n", 403},
		{"cross-site websocket", "GET " + exec + " HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n" + wsHead + "\r\n", 403},
		{"encoded pod path", "GET /api/v1/namespaces/default/pods/x%2F..%2F..%2Fkube-system%2Fpods%2Fdemo/exec?command=id HTTP/1.1\r\nHost: 127.0.0.1\r\n" + wsHead + "\r\n", 400},
		{"dot segments", "GET /api/v1/namespaces/default/pods/demo/../../../../version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400},
		{"oversized head", "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", 431},
		{"h2c upgrade", "GET " + exec + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n", 400},
		{"smuggled request after a refused upgrade", "POST " + exec + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
			"X-Stream-Protocol-Version: v9.bogus\r\nContent-Length: 0\r\n\r\nGET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 403},
		{"malformed websocket frame", "", 0},
		{"spdy header bomb", "", 0},
		{"slowloris", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.name {
			case "spdy header bomb":
				frame := bombFrame(t)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				spdyBomb(t, addr, frame)
				runtime.ReadMemStats(&after)
				// Before the header limits this cost hundreds of MB.
				if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
					t.Errorf("the bomb of %d bytes cost the server %d KB", len(frame), grew>>10)
				}
			case "malformed websocket frame":
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(c, "GET /api/v1/namespaces/default/pods/demo/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", wsHead)
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
					t.Fatalf("upgrade: %v %v", resp, err)
				}
				c.Write([]byte{0x8F, 0x80, 1, 2, 3, 4}) // unknown opcode 0xF, masked, empty
				c.SetDeadline(time.Now().Add(30 * time.Second))
				io.Copy(io.Discard, br) // the server closes
				c.Close()
			case "slowloris":
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				io.WriteString(c, "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
			default:
				resp := rawExchange(t, addr, tc.req)
				if resp == nil || resp.StatusCode != tc.code {
					t.Errorf("answer %v, want %d", resp, tc.code)
				}
			}
			canary(t, base)
		})
	}
}
