package client

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/transport/websocket"
)

// scriptedUpgrades answers WebSocket upgrades with ws and SPDY upgrades with
// a 403 Status, counting the SPDY attempts.
func scriptedUpgrades(t *testing.T, ws http.HandlerFunc) (*Client, *atomic.Int32) {
	t.Helper()
	var spdyN atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if protocol.IsSPDYUpgrade(r) {
			spdyN.Add(1)
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"status":"Failure","message":"spdy refused"}`)
			return
		}
		ws(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(&Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c, &spdyN
}

func TestNoFallbackAfter101(t *testing.T) {
	c, spdyN := scriptedUpgrades(t, func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = conn.Abort("backend went away")
	})
	err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard}})
	if !errors.Is(err, ErrNoStatus) || spdyN.Load() != 0 {
		t.Errorf("got %v after %d spdy attempts, want ErrNoStatus and none", err, spdyN.Load())
	}
}

func TestFallbackOnMalformed101(t *testing.T) {
	c, spdyN := scriptedUpgrades(t, func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer nc.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: d3Jvbmc=\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n")
		_ = brw.Flush()
	})
	err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard}})
	var ue *UpgradeError
	if !errors.As(err, &ue) || ue.Wire != WireSPDY || ue.Message != "spdy refused" || spdyN.Load() != 1 {
		t.Errorf("got %v after %d spdy attempts, want the spdy refusal after one attempt", err, spdyN.Load())
	}
}

func TestFallbackOnUnofferedSubprotocol(t *testing.T) {
	c, spdyN := scriptedUpgrades(t, func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set(protocol.HeaderWebSocketProtocol, protocol.V4)
		conn, err := websocket.Accept(w, r, nil)
		if err == nil {
			_ = conn.Abort("test")
		}
	})
	err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard}})
	var ue *UpgradeError
	if !errors.As(err, &ue) || ue.Wire != WireSPDY || spdyN.Load() != 1 {
		t.Errorf("got %v after %d spdy attempts, want the spdy refusal after one attempt", err, spdyN.Load())
	}
}

// TestNoFallbackOnProxyRefusal: a proxy that refuses CONNECT is a network
// error, not an upgrade failure: one attempt, no SPDY.
func TestNoFallbackOnProxyRefusal(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			attempts.Add(1)
			_, _ = http.ReadRequest(bufio.NewReader(c))
			_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()
	pu, _ := url.Parse("http://" + ln.Addr().String())
	c, err := New(&Config{Host: "http://192.0.2.1:6443", Proxy: http.ProxyURL(pu)})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"true"}, StreamOptions: StreamOptions{Stdout: io.Discard}})
	var ue *UpgradeError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "403 Forbidden") || attempts.Load() != 1 {
		t.Errorf("got %v after %d proxy connections, want the proxy's refusal after one", err, attempts.Load())
	}
}
