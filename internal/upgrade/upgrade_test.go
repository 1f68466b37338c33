package upgrade

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAddr(t *testing.T) {
	for in, want := range map[string]string{
		"http://h":           "h:80",
		"https://h":          "h:443",
		"https://h:6443/x":   "h:6443",
		"http://[::1]/":      "[::1]:80",
		"https://[::1]:8443": "[::1]:8443",
	} {
		u, _ := url.Parse(in)
		if got := Addr(u); got != want {
			t.Errorf("Addr(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestDialTLSOffersOnlyHTTP1: over https the dial offers http/1.1 alone
// whatever the caller's config offered, and names the URL's host.
func TestDialTLSOffersOnlyHTTP1(t *testing.T) {
	hello := make(chan *tls.ClientHelloInfo, 1)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		hello <- h
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	cfg.InsecureSkipVerify = true // the test certificate names example.com
	c, err := Dial(context.Background(), u, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := <-hello
	if strings.Join(h.SupportedProtos, ",") != "http/1.1" || h.ServerName != "localhost" {
		t.Fatalf("offered ALPN %q, server name %q", h.SupportedProtos, h.ServerName)
	}
	if c.(*tls.Conn).ConnectionState().NegotiatedProtocol != "http/1.1" {
		t.Errorf("negotiated %q", c.(*tls.Conn).ConnectionState().NegotiatedProtocol)
	}
	if _, err := Dial(context.Background(), &url.URL{Scheme: "ftp", Host: "x"}, nil, nil); err == nil {
		t.Error("ftp dialled")
	}
}

// TestRoundTrip: the head is read, bytes after it stay in the reader; a
// head over MaxHead and a cancelled context end the round trip.
func TestRoundTrip(t *testing.T) {
	serve := func(answer string) net.Conn {
		a, b := net.Pipe()
		go func() {
			br := bufio.NewReader(b)
			if _, err := http.ReadRequest(br); err == nil {
				_, _ = io.WriteString(b, answer)
			}
		}()
		t.Cleanup(func() { a.Close(); b.Close() })
		return a
	}
	req := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "http://h/x", nil)
		r.Header.Set("Connection", "Upgrade")
		return r
	}
	c := serve("HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\n\r\nFIRST")
	br, resp, err := RoundTrip(context.Background(), c, req())
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	first := make([]byte, 5)
	if _, err := io.ReadFull(br, first); err != nil || string(first) != "FIRST" {
		t.Fatalf("after the head: %q %v", first, err)
	}

	big := "HTTP/1.1 101 Switching Protocols\r\nX: " + strings.Repeat("a", MaxHead) + "\r\n\r\n"
	if _, _, err := RoundTrip(context.Background(), serve(big), req()); !errors.Is(err, ErrHeadTooLarge) {
		t.Fatalf("oversized head: %v, want ErrHeadTooLarge", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	a, b := net.Pipe() // the server never answers
	defer a.Close()
	defer b.Close()
	go func() { _, _ = io.Copy(io.Discard, b) }()
	if _, _, err := RoundTrip(ctx, a, req()); err == nil {
		t.Fatal("a silent server's round trip ended without error")
	}
}
