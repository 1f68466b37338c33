package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// TestProbesAreTheGatewaysOwn: /livez, /healthz and /readyz answer without
// credentials and under any Host (a load balancer probes a replica by its
// address), from the gateway itself; Drain turns /readyz to 503 while new
// sessions still start, so a balancer can stop sending them before the
// grace begins; after Shutdown it stays 503.
func TestProbesAreTheGatewaysOwn(t *testing.T) {
	node := startNode(t)
	tokens, err := gateway.ParseTokens(strings.NewReader(tokensCSV))
	if err != nil {
		t.Fatal(err)
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(rbacYAML)); err != nil {
		t.Fatal(err)
	}
	gw, g := startGateway(t, node, &gateway.Options{Tokens: tokens, Authorizer: rbac})
	probe := func(path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, gw+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "10.1.2.3:8443" // a pod address, not on the allow-list
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct{ path, want string }{
		{"/livez", "ok"},
		{"/healthz", "ok"},
		{"/readyz", "ok"},
		{"/readyz/ping", "ok"},
		{"/readyz/shutdown", "ok"},
		{"/livez?verbose", "[+]ping ok\nlivez check passed\n"},
		{"/readyz?verbose", "[+]ping ok\n[+]shutdown ok\nreadyz check passed\n"},
		{"/readyz?verbose&exclude=shutdown&exclude=etcd&exclude=a", "[+]ping ok\n[+]shutdown excluded: ok\n" +
			`warn: some health checks cannot be excluded: no matches for "a","etcd"` + "\nreadyz check passed\n"},
	} {
		if code, body := probe(tt.path); code != 200 || body != tt.want {
			t.Errorf("%s: %d %q, want 200 %q", tt.path, code, body, tt.want)
		}
	}
	// Anything else still needs the Host check and credentials.
	if code, _ := probe("/version"); code == 200 {
		t.Errorf("/version under a foreign Host without credentials: 200")
	}

	g.Drain()
	for _, tt := range []struct{ path, want string }{
		{"/readyz", "[+]ping ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n"},
		{"/readyz?verbose", "[+]ping ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n"},
		{"/readyz/shutdown", "internal server error: the gateway is draining\n"},
	} {
		if code, body := probe(tt.path); code != 503 || body != tt.want {
			t.Errorf("%s while draining: %d %q, want 503 %q", tt.path, code, body, tt.want)
		}
	}
	if code, body := probe("/readyz?exclude=shutdown"); code != 200 || body != "ok" {
		t.Errorf("/readyz?exclude=shutdown while draining: %d %q, want 200 ok", code, body)
	}
	if code, _ := probe("/livez"); code != 200 {
		t.Errorf("/livez while draining: %d, want 200", code)
	}
	h := http.Header{"Authorization": {"Bearer admin-token"}}
	if out, _, st := wsExec(t, execURL(gw, []string{"echo", "still"}, "stdout"), h, nil); string(out) != "still\n" {
		t.Errorf("session while draining: %q, status %s", out, st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := probe("/readyz"); code != 503 {
		t.Errorf("/readyz after Shutdown: %d, want 503", code)
	}
}

// TestTranslationRelaysUpstreamRefusal: in every translating mode the
// gateway dials the upstream before it upgrades the client, so a refusal
// reaches the client as the upstream gave it (status and Status body,
// byte for byte as without translation), the way the API server refuses
// before it upgrades: never a 101 followed by an InternalError, nor the
// raw Status inside "websocket upgrade refused: ..." that kubectl before
// 1.30 printed.
func TestTranslationRelaysUpstreamRefusal(t *testing.T) {
	node := startNode(t)
	direct, _ := startGateway(t, node, nil)
	spdyOnly, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.SPDY})
	wsOnly, _ := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.WebSocket})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	execNope := func(base string) string {
		return strings.Replace(execURL(base, []string{"true"}, "stdout"), "/pods/p/", "/pods/nope/", 1)
	}
	wsExec := func(base string) error {
		_, _, err := websocket.Dial(ctx, execNope(base), nil)
		return err
	}
	spdyDial := func(u string, protocols ...string) error {
		_, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: protocols})
		return err
	}
	for _, tc := range []struct {
		name        string
		translating string
		dial        func(base string) error
	}{
		{"websocket exec, SPDY-only upstream", spdyOnly, wsExec},
		{"SPDY exec, WebSocket-only upstream", wsOnly, func(base string) error { return spdyDial(execNope(base), protocol.V4) }},
		{"SPDY port-forward, tunnel-only upstream", wsOnly, func(base string) error {
			return spdyDial(base+"/api/v1/namespaces/default/pods/nope/portforward", portforward.Name)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refusal := func(base string) (int, string) {
				err := tc.dial(base)
				var se *stream.UpgradeError
				var we *stream.UpgradeError
				switch {
				case errors.As(err, &se):
					return se.StatusCode, string(se.Body)
				case errors.As(err, &we):
					return we.StatusCode, string(we.Body)
				}
				t.Fatalf("dial %s: %v, want a refused upgrade", base, err)
				return 0, ""
			}
			wantCode, wantBody := refusal(direct)
			code, body := refusal(tc.translating)
			if wantCode != 404 || code != wantCode || body != wantBody {
				t.Errorf("through translation: %d %s; the node directly: %d %s", code, body, wantCode, wantBody)
			}
		})
	}
}

// TestFrozenReaderOfAStreamIsLetGo: a streamed read (kubectl logs -f) whose
// client stops taking bytes without closing is ended once a write has
// waited readStallTimeout: the upstream's request ends too, nothing is held
// for ever. A reader that keeps up streams on.
func TestFrozenReaderOfAStreamIsLetGo(t *testing.T) {
	upstreamDone := make(chan error, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("log line\n"), 4096)
		rc := http.NewResponseController(w)
		for {
			if _, err := w.Write(chunk); err != nil {
				upstreamDone <- err
				return
			}
			if err := rc.Flush(); err != nil {
				upstreamDone <- err
				return
			}
		}
	}))
	defer up.Close()
	gw, _ := startGateway(t, up.URL, &gateway.Options{ReadStallTimeout: 500 * time.Millisecond})
	c, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /api/v1/namespaces/default/pods/p/log?follow=true HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	// Never read: the gateway's writes back up, then its bound ends them.
	select {
	case err := <-upstreamDone:
		if err == nil {
			t.Error("upstream write ended without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway still holds a stream nobody reads")
	}
}
