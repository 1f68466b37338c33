package node_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/transport/spdy"
)

// synStream opens every SYN_STREAM frame (SPDY/3 control frame, type 1).
var synStream = []byte{0x80, 0x03, 0x00, 0x01}

// holdReplies is a client connection whose reads, once a SYN_STREAM went
// out, wait until want SYN_STREAMs went out (or hold passes): a client
// that waits for each SYN_REPLY before its next SYN_STREAM stalls here.
type holdReplies struct {
	net.Conn
	want int
	hold time.Duration

	mu      sync.Mutex
	written []byte
	all     chan struct{} // closed once want SYN_STREAMs went out
	stalled bool
}

func (c *holdReplies) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.written = append(c.written, p...)
	if bytes.Count(c.written, synStream) >= c.want {
		select {
		case <-c.all:
		default:
			close(c.all)
		}
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *holdReplies) Read(p []byte) (int, error) {
	c.mu.Lock()
	opening := bytes.Contains(c.written, synStream)
	c.mu.Unlock()
	if opening {
		select {
		case <-c.all:
		case <-time.After(c.hold):
			c.mu.Lock()
			c.stalled = true
			c.mu.Unlock()
		}
	}
	return c.Conn.Read(p)
}

// OpenSession sends all of a session's SYN_STREAMs before it waits for
// their replies: one round trip to set up, not one per stream.
func TestSPDYOpenSessionPipelinesStreams(t *testing.T) {
	base := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var hc *holdReplies
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		hc = &holdReplies{Conn: c, want: 3, hold: 2 * time.Second, all: make(chan struct{})}
		return hc, nil
	}
	conn, _, err := spdy.Dial(ctx, execURL(base, "p", []string{"sh", "-c", "printf out; printf err >&2"}, "stdout", "stderr"),
		&spdy.DialOptions{Protocols: []string{"v4.channel.k8s.io"}, DialContext: dial})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	sess, err := conn.OpenSession(ctx, protocol.Want{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatalf("open streams: %v", err)
	}
	out, errOut, st := streamtest.RunSession(t, sess, nil)
	v, _ := protocol.Lookup(protocol.SPDYVersions, "v4.channel.k8s.io")
	if string(out) != "out" || string(errOut) != "err" || string(st) != wantStatus(v, 0) {
		t.Errorf("got out %q err %q status %q", out, errOut, st)
	}
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.stalled {
		t.Error("the client waited for a SYN_REPLY before sending its next SYN_STREAM")
	}
}
