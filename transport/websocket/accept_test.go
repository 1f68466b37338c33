package websocket

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

// rawHandshake sends a hand-written upgrade request with the given
// Sec-WebSocket-Protocol lines and returns everything the server answered
// up to the end of the headers (101) or to EOF (refusals).
func rawHandshake(t *testing.T, url, method string, protoLines []string) string {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := method + " / HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, l := range protoLines {
		req += "Sec-WebSocket-Protocol: " + l + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read status: %v", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		rest, _ := io.ReadAll(br)
		return status + string(rest)
	}
	out := status
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read headers: %v", err)
		}
		out += line
		if line == "\r\n" {
			return out
		}
	}
}

func TestNegotiation(t *testing.T) {
	const forbidden = "HTTP/1.1 403 Forbidden\r\n\r\n"
	cases := []struct {
		name     string
		versions []protocol.Version
		lines    []string
		want     string // chosen protocol; "-" for the raw 403
	}{
		{"v5", nil, []string{"v5.channel.k8s.io"}, protocol.V5},
		{"v4", nil, []string{"v4.channel.k8s.io"}, protocol.V4},
		{"v4 base64", nil, []string{"v4.base64.channel.k8s.io"}, protocol.V4Base64},
		{"v1", nil, []string{"channel.k8s.io"}, protocol.V1},
		{"v1 base64", nil, []string{"base64.channel.k8s.io"}, protocol.V1Base64},
		{"client order wins", nil, []string{"v4.channel.k8s.io, v5.channel.k8s.io"}, protocol.V4},
		{"client order wins base64", nil, []string{"base64.channel.k8s.io,v5.channel.k8s.io"}, protocol.V1Base64},
		{"unknown first", nil, []string{"v2.channel.k8s.io,channel.k8s.io"}, protocol.V1},
		{"first line only", nil, []string{"v2.channel.k8s.io", "v5.channel.k8s.io"}, "-"},
		{"no match", nil, []string{"v3.channel.k8s.io"}, "-"},
		{"not offered by server", []protocol.Version{protocol.WebSocketVersions[0]}, []string{"v4.channel.k8s.io"}, "-"},
		{"none offered, unnamed served", allVersions, nil, ""},
		{"empty line, unnamed served", allVersions, []string{""}, ""},
		{"none offered, unnamed not served", nil, nil, "-"},
		{"case matters", nil, []string{"V5.channel.k8s.io"}, "-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, accepted, closed := serve(t, &AcceptOptions{Versions: tc.versions}, nil)
			got := rawHandshake(t, url, "GET", tc.lines)
			res := <-accepted
			if tc.want == "-" {
				if got != forbidden {
					t.Fatalf("got %q, want %q", got, forbidden)
				}
				if !errors.Is(res.err, ErrNoProtocol) {
					t.Fatalf("Accept: got %v, want ErrNoProtocol", res.err)
				}
				return
			}
			if res.err != nil {
				t.Fatalf("Accept: %v", res.err)
			}
			if res.conn.Protocol() != tc.want {
				t.Fatalf("Protocol: got %q, want %q", res.conn.Protocol(), tc.want)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
			if err != nil {
				t.Fatal(err)
			}
			hdr, present := resp.Header["Sec-Websocket-Protocol"]
			if tc.want == "" && present {
				t.Fatalf("unnamed: got Sec-WebSocket-Protocol %q, want none", hdr)
			}
			if tc.want != "" && (len(hdr) != 1 || hdr[0] != tc.want) {
				t.Fatalf("Sec-WebSocket-Protocol: got %q, want %q", hdr, tc.want)
			}
			<-closed // the peer vanished; Close still joins
		})
	}
}

func TestAcceptBadMethod(t *testing.T) {
	url, accepted, _ := serve(t, nil, nil)
	got := rawHandshake(t, url, "POST", []string{protocol.V5})
	if !strings.HasPrefix(got, "HTTP/1.1 405") || !strings.Contains(got, "bad method") {
		t.Fatalf("got %q, want 405 bad method", got)
	}
	if res := <-accepted; !errors.Is(res.err, ErrBadMethod) {
		t.Fatalf("Accept: got %v, want ErrBadMethod", res.err)
	}
}

func TestAcceptOrigin(t *testing.T) {
	cases := []struct {
		name   string
		origin string
		opts   AcceptOptions
		ok     bool
	}{
		{"no origin", "", AcceptOptions{}, true},
		{"cross origin", "https://evil.example", AcceptOptions{}, false},
		{"allowed pattern", "https://ui.example", AcceptOptions{OriginPatterns: []string{"ui.example"}}, true},
		{"insecure skip", "https://evil.example", AcceptOptions{InsecureSkipOriginCheck: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, accepted, _ := serve(t, &tc.opts, nil)
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, _, err := Dial(context.Background(), url, &DialOptions{Header: h, PingInterval: -1})
			res := <-accepted
			if !tc.ok {
				var ue *stream.UpgradeError
				if !errors.As(err, &ue) || ue.StatusCode != http.StatusForbidden || res.err == nil {
					t.Fatalf("got dial %v, accept %v; want 403 and an Accept error", err, res.err)
				}
				return
			}
			if err != nil || res.err != nil {
				t.Fatalf("dial %v, accept %v", err, res.err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}
