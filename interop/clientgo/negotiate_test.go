package clientgo

import (
	"context"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/porthole/porthole/interop/criref"
)

// negotiation is the outcome of one WebSocket handshake.
type negotiation struct {
	Status     int
	Negotiated string
	BodyEmpty  bool
}

// TestWebSocketNegotiation offers subprotocol lists in different orders and
// compares porthole's answer with the kubelet's (criref's front, which
// sends v5 to the translator and everything else to the cri-streaming
// legacy server): client preference wins, v2/v3 have no WebSocket server,
// and no match is a bare 403 (PROTOCOL.md 3.2, 2.4).
func TestWebSocketNegotiation(t *testing.T) {
	ref, err := criref.Start(t.Context(), nil)
	if err != nil {
		t.Fatalf("start criref: %v", err)
	}
	defer ref.Close()
	cases := []struct {
		name  string
		offer []string
		want  negotiation
	}{
		{"v4-then-v1", []string{"v4.channel.k8s.io", "channel.k8s.io"}, negotiation{101, "v4.channel.k8s.io", true}},
		{"v1-then-v4", []string{"channel.k8s.io", "v4.channel.k8s.io"}, negotiation{101, "channel.k8s.io", true}},
		{"base64-first", []string{"v4.base64.channel.k8s.io", "v4.channel.k8s.io"}, negotiation{101, "v4.base64.channel.k8s.io", true}},
		{"v5-then-v4", []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}, negotiation{101, "v5.channel.k8s.io", true}},
		{"unknown-then-v4", []string{"bogus.k8s.io", "v4.channel.k8s.io"}, negotiation{101, "v4.channel.k8s.io", true}},
		{"unknown-only", []string{"bogus.k8s.io"}, negotiation{403, "", true}},
		{"v3-only", []string{"v3.channel.k8s.io"}, negotiation{403, "", true}},
	}
	ph := portholeDialer(t)
	script := wsScript{command: []string{"true"}}
	refURL := func() string {
		u, _ := url.Parse(ref.URL())
		u.Path = "/exec/default/exec/main"
		u.RawQuery = url.Values{"command": {"true"}, "output": {"1"}}.Encode()
		return wsURL(u)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := handshake(t, ph.d, ph.url(t, script), ph, tc.offer)
			want := handshake(t, &websocket.Dialer{HandshakeTimeout: 30 * time.Second}, refURL(), nil, tc.offer)
			if got != tc.want {
				t.Errorf("porthole: got %+v, want %+v", got, tc.want)
			}
			if want != tc.want {
				t.Errorf("criref (reference): got %+v, want %+v", want, tc.want)
			}
		})
	}
}

// handshake dials with offer as one Sec-WebSocket-Protocol line and, on
// success, reads the session to its end so the command finishes.
func handshake(t *testing.T, d *websocket.Dialer, u string, dl *dialer, offer []string) negotiation {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dd := *d
	dd.Subprotocols = offer
	var hdr = map[string][]string(nil)
	if dl != nil {
		hdr = dl.hdr
	}
	conn, resp, err := dd.DialContext(ctx, u, hdr)
	if resp == nil {
		t.Fatalf("dial %s: no response: %v", u, err)
	}
	n := negotiation{Status: resp.StatusCode, Negotiated: resp.Header.Get("Sec-WebSocket-Protocol")}
	if conn == nil {
		b, _ := io.ReadAll(resp.Body)
		n.BodyEmpty = len(b) == 0
		return n
	}
	n.BodyEmpty = true
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	return n
}
