package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/transport/websocket"
)

// TestResumeAcksByBytes: a gateway that sends no more than its window of
// unacknowledged output (protocol.ResumeOutputWindow) gets its
// acknowledgements as the output arrives, not only on the client's timer,
// which this test stops. Without them the session stalled at the window
// each timer period (170 MB/s through serve); here it would stall for good.
func TestResumeAcksByBytes(t *testing.T) {
	defer func(d time.Duration) { ackInterval = d }(ackInterval)
	ackInterval = time.Hour
	const total = 4*protocol.ResumeOutputWindow + 12345
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	want := sha256.New()
	serverErr := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(protocol.HeaderSession, "s1")
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Versions: []protocol.Version{protocol.ResumeVersion}, Channels: protocol.ResumeChannels})
		if err != nil {
			serverErr <- err
			return
		}
		serverErr <- serveWindowed(conn, chunk, total, want)
	}))
	defer srv.Close()
	c, err := New(&Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := sha256.New()
	n := &countingWriter{w: got}
	err = c.Exec(ctx, &ExecOptions{Pod: "p", Command: []string{"x"},
		StreamOptions: StreamOptions{Stdout: n, Resume: &ResumeOptions{}}})
	if serr := <-serverErr; serr != nil {
		t.Fatalf("server: %v", serr)
	}
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if n.n != total || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("stdout: %d bytes, want %d (checksums equal: %v)", n.n, total, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
}

// serveWindowed writes total bytes of stdout, never more than the window
// ahead of the client's acknowledgements, then a success status, and
// closes cleanly.
func serveWindowed(conn *websocket.Conn, chunk []byte, total int, sum interface{ Write([]byte) (int, error) }) error {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	acked := int64(0)
	go func() {
		br := bufio.NewReader(conn.Channel(protocol.ResumeControl))
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				mu.Lock()
				acked = -1
				cond.Broadcast()
				mu.Unlock()
				return
			}
			off, err := protocol.ParseOffsets(line[:len(line)-1])
			if err == nil {
				mu.Lock()
				acked = off.Stdout
				cond.Broadcast()
				mu.Unlock()
			}
		}
	}()
	stall := time.AfterFunc(10*time.Second, func() {
		mu.Lock()
		acked = -2
		cond.Broadcast()
		mu.Unlock()
	})
	defer stall.Stop()
	stdout := conn.Channel(1)
	for sent := 0; sent < total; {
		k := min(len(chunk), total-sent)
		mu.Lock()
		for acked >= 0 && int64(sent+k)-acked > protocol.ResumeOutputWindow {
			cond.Wait()
		}
		a := acked
		mu.Unlock()
		if a < 0 {
			_ = conn.Abort("no acknowledgement")
			return fmt.Errorf("the client sent no acknowledgement within 10 s, after %d bytes", sent)
		}
		if _, err := stdout.Write(chunk[:k]); err != nil {
			return err
		}
		sum.Write(chunk[:k])
		sent += k
	}
	if _, err := conn.Channel(3).Write([]byte(`{"metadata":{},"status":"Success"}`)); err != nil {
		return err
	}
	return conn.Close()
}

type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	return c.w.Write(p)
}
