package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
)

// freezer relays TCP connections until freeze, then relays nothing either
// way while keeping the sockets open: a frozen or silently dropped peer.
type freezer struct {
	ln     net.Listener
	target string
	frozen chan struct{}
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target, frozen: make(chan struct{})}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				down.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, down, up)
			f.mu.Unlock()
			f.wg.Add(2)
			go f.relay(up, down)
			go f.relay(down, up)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.freeze()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *freezer) freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *freezer) relay(dst, src net.Conn) {
	defer f.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-f.frozen:
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestServerKeepAlive: the server ends a connection whose pinging client
// froze; it spares a client that never pings, and one whose pings it
// cannot hear because its own read loop is held up delivering stdin.
func TestServerKeepAlive(t *testing.T) {
	v := protocol.WebSocketVersions[0]
	for _, tc := range []struct {
		name        string
		ping        time.Duration
		flood       bool // the client fills stdin the server does not read
		freeze      bool
		wantTimeout bool
	}{
		{"frozen pinging client", 10 * time.Millisecond, false, true, true},
		{"silent client", -1, false, false, false},
		{"held-up reader", 10 * time.Millisecond, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ended := make(chan error, 1)
			url, accepted, _ := serve(t, &AcceptOptions{Versions: []protocol.Version{v}, KeepAliveTimeout: 150 * time.Millisecond},
				func(c *Conn) {
					select {
					case <-c.Done():
						ended <- c.Err()
					case <-time.After(time.Second):
						ended <- nil
					}
					if tc.flood {
						io.Copy(io.Discard, c.Channel(channel.Stdin))
					}
				})
			fz := newFreezer(t, strings.TrimPrefix(url, "ws://"))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			client, _, err := Dial(ctx, "ws://"+fz.ln.Addr().String(), &DialOptions{Versions: []protocol.Version{v}, PingInterval: tc.ping})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Abort("done")
			server := (<-accepted).conn
			if tc.ping > 0 {
				waitUntil(t, func() bool { return server.peerPings.Load() })
			}
			if tc.flood {
				go client.Channel(channel.Stdin).Write(make([]byte, 64<<20))
			}
			if tc.freeze {
				fz.freeze()
			}
			err = <-ended
			if got := errors.Is(err, ErrPeerUnresponsive); got != tc.wantTimeout {
				t.Errorf("server connection ended with %v; want unresponsive=%v", err, tc.wantTimeout)
			}
		})
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
