package spdy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
)

// A port-forward-shaped session: per request an error and a data stream
// (headers port, requestid), the client half-closing the error stream at
// once as client-go does, the server accepting forever and pairing by
// requestid, echoing data, and never reading the error stream. With
// MaxStreams 6 the 40 requests only pass if finished streams free their slots.
func TestPortForwardSession(t *testing.T) {
	opts := &UpgradeOptions{Protocols: []string{"portforward.k8s.io"}, MaxStreams: 6}
	ts := newTestServer(t, opts)
	client, server := dialPair(t, ts, &DialOptions{Protocols: []string{"portforward.k8s.io"}})

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); servePortForward(t, server) }()

	for i := 0; i < 40; i++ {
		id := fmt.Sprint(i)
		h := http.Header{"Streamtype": {"error"}, "Port": {"8080"}, "Requestid": {id}}
		errS, err := client.Open(context.Background(), h)
		if err != nil {
			t.Fatalf("request %d: open error stream: %v", i, err)
		}
		errS.CloseWrite()
		h = http.Header{"Streamtype": {"data"}, "Port": {"8080"}, "Requestid": {id}}
		data, err := client.Open(context.Background(), h)
		if err != nil {
			t.Fatalf("request %d: open data stream: %v", i, err)
		}
		payload := bytes.Repeat([]byte(id), 10000)
		go func() { data.Write(payload); data.CloseWrite() }()
		got, err := io.ReadAll(data)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("request %d: echo %d bytes, %v", i, len(got), err)
		}
		if msg, err := io.ReadAll(errS); err != nil || len(msg) != 0 {
			t.Fatalf("request %d: error stream %q, %v", i, msg, err)
		}
	}
	client.Close()
	server.Close()
	wg.Wait()
}

func servePortForward(t *testing.T, c *Conn) {
	var wg sync.WaitGroup
	defer wg.Wait()
	pending := map[string]*Stream{} // requestid -> the stream waiting for its partner
	for {
		s, err := c.Accept(context.Background())
		if err != nil {
			return
		}
		id := s.Headers().Get("requestid")
		other, ok := pending[id]
		if !ok {
			pending[id] = s
			continue
		}
		delete(pending, id)
		errS, data := other, s
		if s.Headers().Get("streamtype") == "error" {
			errS, data = s, other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := io.Copy(data, data); err != nil {
				t.Errorf("request %s: echo: %v", id, err)
			}
			data.CloseWrite()
			errS.CloseWrite()
		}()
	}
}
