package spdy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
)

var serverProtocols = protocol.Names(protocol.SPDYVersions) // v4, v3, v2, channel

func TestUpgradeNegotiation(t *testing.T) {
	tests := []struct {
		name     string
		lines    []string // X-Stream-Protocol-Version lines
		wantCode int
		wantBody string // without the trailing newline http.Error adds
		wantProt string
	}{
		{
			name:     "header missing",
			wantCode: http.StatusBadRequest,
			// Content-Length, Connection, Upgrade
			wantBody: "unable to upgrade: header X-Stream-Protocol-Version does not exist in request with 3 headers",
		},
		{
			name:     "no common protocol",
			lines:    []string{"v5.channel.k8s.io", "foo"},
			wantCode: http.StatusForbidden,
			wantBody: "unable to upgrade: unable to negotiate protocol: client supports [v5.channel.k8s.io foo], server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]",
		},
		{
			name:     "only commas",
			lines:    []string{" , ,"},
			wantCode: http.StatusBadRequest,
			wantBody: "unable to upgrade: header X-Stream-Protocol-Version contains [, ,], but no valid protocols",
		},
		{name: "comma split", lines: []string{"v5.channel.k8s.io, v3.channel.k8s.io,v4.channel.k8s.io"}, wantCode: http.StatusSwitchingProtocols, wantProt: protocol.V3},
		{name: "multiple lines", lines: []string{"v5.channel.k8s.io", "v2.channel.k8s.io"}, wantCode: http.StatusSwitchingProtocols, wantProt: protocol.V2},
		{name: "client order wins", lines: []string{"channel.k8s.io", "v4.channel.k8s.io"}, wantCode: http.StatusSwitchingProtocols, wantProt: protocol.V1},
		{name: "client-go offer", lines: protocol.SPDYClientOffer, wantCode: http.StatusSwitchingProtocols, wantProt: protocol.V4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, &UpgradeOptions{Protocols: serverProtocols})
			lines := []string{"Connection: Upgrade", "Upgrade: SPDY/3.1"}
			for _, l := range tt.lines {
				lines = append(lines, protocol.HeaderStreamProtocol+": "+l)
			}
			resp, body := rawExchange(t, ts, lines...)
			<-ts.hdrs
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.wantCode, body)
			}
			if tt.wantCode != http.StatusSwitchingProtocols {
				if err := <-ts.errs; err == nil || err.Error() != tt.wantBody {
					t.Errorf("Upgrade error %v, want %q", err, tt.wantBody)
				}
				if body != tt.wantBody+"\n" {
					t.Errorf("body %q, want %q", body, tt.wantBody+"\n")
				}
				if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", got)
				}
				got := resp.Header.Values(protocol.HeaderAcceptedProtocol)
				var want []string
				if tt.wantCode == http.StatusForbidden {
					want = serverProtocols
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s = %q, want %q", protocol.HeaderAcceptedProtocol, got, want)
				}
				return
			}
			c := <-ts.conns
			defer c.Abort("test done")
			if c.Protocol() != tt.wantProt {
				t.Errorf("server protocol %q, want %q", c.Protocol(), tt.wantProt)
			}
			for name, want := range map[string]string{"Connection": "Upgrade", "Upgrade": "SPDY/3.1", protocol.HeaderStreamProtocol: tt.wantProt} {
				if got := resp.Header.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("101 header %s = %q, want [%q]", name, got, want)
				}
			}
		})
	}
}

func TestUpgradeMissingUpgradeHeaders(t *testing.T) {
	ts := newTestServer(t, &UpgradeOptions{Protocols: serverProtocols})
	resp, body := rawExchange(t, ts, protocol.HeaderStreamProtocol+": v4.channel.k8s.io")
	seen := <-ts.hdrs
	want := fmt.Sprintf("unable to upgrade: missing upgrade headers in request: %#v", seen)
	if resp.StatusCode != http.StatusBadRequest || body != want+"\n" {
		t.Fatalf("got %d %q, want 400 %q", resp.StatusCode, body, want+"\n")
	}
	// The kubelet negotiates first, so the refusal still names the protocol.
	if got := resp.Header.Get(protocol.HeaderStreamProtocol); got != protocol.V4 {
		t.Errorf("X-Stream-Protocol-Version %q, want %q", got, protocol.V4)
	}
	<-ts.errs
}

// Dial reports refusals the way client-go words them.
func TestDialUpgradeError(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		body    string
		wantMsg string
	}{
		{"status json", 403, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" is forbidden","reason":"Forbidden","code":403}`, `pods "web" is forbidden`},
		{"error field", 500, `{"error":"backend down"}`, "backend down"},
		{"plain text", 400, "  unable to upgrade: nope\n", "unable to upgrade: nope"},
		{"empty", 404, "", "empty server response"},
		{"redirect not followed", 302, "go elsewhere", "go elsewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPlainServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.code == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.code)
				fmt.Fprint(w, tt.body)
			})
			c, resp, err := Dial(context.Background(), srv, &DialOptions{Protocols: []string{protocol.V4}})
			if c != nil {
				c.Abort("unexpected")
				t.Fatal("Dial succeeded")
			}
			var ue *stream.UpgradeError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v (%T), want *stream.UpgradeError", err, err)
			}
			if ue.StatusCode != tt.code || ue.Message != tt.wantMsg || string(ue.Body) != tt.body {
				t.Errorf("got %d %q %q, want %d %q %q", ue.StatusCode, ue.Message, ue.Body, tt.code, tt.wantMsg, tt.body)
			}
			if want := "unable to upgrade connection: " + tt.wantMsg; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if resp == nil || resp.StatusCode != tt.code {
				t.Errorf("response %v, want status %d", resp, tt.code)
			}
		})
	}
}

// A client's request is what client-go sends: POST, Content-Length 0, one
// X-Stream-Protocol-Version line per protocol, extra headers kept.
func TestDialRequestShape(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	h := http.Header{"Authorization": {"Bearer t0ken"}}
	c, resp, err := Dial(context.Background(), ts.URL+"/exec/x", &DialOptions{Protocols: protocol.SPDYClientOffer, Header: h})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort("test done")
	seen := <-ts.hdrs
	s := <-ts.conns
	defer s.Abort("test done")
	if got := seen.Values(protocol.HeaderStreamProtocol); !slices.Equal(got, protocol.SPDYClientOffer) {
		t.Errorf("offered %q, want one line each of %q", got, protocol.SPDYClientOffer)
	}
	for name, want := range map[string]string{"Content-Length": "0", "Connection": "Upgrade", "Upgrade": "SPDY/3.1", "Authorization": "Bearer t0ken"} {
		if got := seen.Get(name); got != want {
			t.Errorf("request %s = %q, want %q", name, got, want)
		}
	}
	if resp.StatusCode != 101 || c.Protocol() != protocol.V4 {
		t.Errorf("got %d %q, want 101 %q", resp.StatusCode, c.Protocol(), protocol.V4)
	}
}

// A 101 without X-Stream-Protocol-Version means channel.k8s.io (client-go).
func TestDialNoProtocolHeader(t *testing.T) {
	handlerDone := make(chan struct{})
	srv := newPlainServer(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "SPDY/3.1")
		w.WriteHeader(http.StatusSwitchingProtocols)
		raw, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		s, err := newConn(raw, brw.Reader, true, connConfig{linger: DefaultLinger})
		if err != nil {
			return
		}
		<-s.Done()
		s.Close()
	})
	c, _, err := Dial(context.Background(), srv, &DialOptions{Protocols: []string{protocol.V4}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Protocol() != protocol.V1 {
		t.Errorf("protocol %q, want %q", c.Protocol(), protocol.V1)
	}
	c.Close()
	<-handlerDone
}
