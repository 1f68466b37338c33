package node_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
	"github.com/porthole/porthole/node"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// TestVanishedClientWithBlockedStdinLeavesNoProcess: a client that floods
// stdin to a process that never reads it, until every buffer on the way is
// full, then vanishes. Its connection either resets (a killed client with
// unread data) or ends with a FIN stuck behind the unsent stdin (a killed
// client with nothing unread: the FIN can never reach the node, whose
// receive window is shut). Either way the node must end the session and
// kill the process, on every wire, with and without a tty.
func TestVanishedClientWithBlockedStdinLeavesNoProcess(t *testing.T) {
	base := startNode(t)
	host := strings.TrimPrefix(base, "http://")
	i := 0
	for _, wire := range []string{"websocket", "spdy"} {
		for _, tty := range []bool{false, true} {
			for _, end := range []string{"reset", "close"} {
				i++
				marker := fmt.Sprintf("4242.%d", i)
				t.Run(fmt.Sprintf("%s/tty=%v/%s", wire, tty, end), func(t *testing.T) {
					p := newFaultProxy(t, host)
					c := dialStdinExec(t, "http://"+p.addr(), wire, tty, []string{"sleep", marker})
					streamtest.WaitProc(t, marker, true)
					streamtest.FloodUntilBlocked(t, c.stdin)
					if end == "reset" {
						p.kill()
					} else {
						p.hangup()
					}
					streamtest.WaitProc(t, marker, false)
					_ = c.conn.Abort("test over")
					c.wg.Wait()
				})
			}
		}
	}
}

// stdinExec is a client session whose output is read and discarded.
type stdinExec struct {
	conn  stream.Conn
	stdin stream.Stream
	wg    sync.WaitGroup
}

// dialStdinExec starts cmd with stdin and stdout (and stderr without a
// tty) on wire and drains the output streams.
func dialStdinExec(t *testing.T, base, wire string, tty bool, cmd []string) *stdinExec {
	t.Helper()
	flags := []string{"stdin", "stdout"}
	if tty {
		flags = append(flags, "tty")
	} else {
		flags = append(flags, "stderr")
	}
	return dialStdinSession(t, execURL(base, "p", cmd, flags...), wire, tty)
}

// dialStdinSession opens the exec or attach session at u (stdin, stdout,
// and stderr or a tty) on wire and drains its outputs.
func dialStdinSession(t *testing.T, u, wire string, tty bool) *stdinExec {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	c := &stdinExec{}
	var outs []stream.Stream
	switch wire {
	case "websocket":
		conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Versions: []protocol.Version{protocol.WebSocketVersions[0]}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.conn, c.stdin = conn, conn.Channel(channel.Stdin)
		outs = []stream.Stream{conn.Channel(channel.Stdout), conn.Channel(channel.Stderr), conn.Channel(channel.Error)}
	default:
		conn, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: []string{protocol.V4}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.conn = conn
		open := func(typ string) stream.Stream {
			s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
			if err != nil {
				t.Fatalf("open %s: %v", typ, err)
			}
			return s
		}
		outs = append(outs, open("error"))
		c.stdin = open("stdin")
		outs = append(outs, open("stdout"))
		if tty {
			open("resize")
		} else {
			outs = append(outs, open("stderr"))
		}
	}
	t.Cleanup(func() { _ = c.conn.Abort("test over"); c.wg.Wait() })
	for _, s := range outs {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			<-streamtest.ReadAll(s)
		}()
	}
	return c
}

// hangup closes both sides of the relay without a reset: the FIN to the
// server queues behind whatever the server has not taken yet.
func (p *faultProxy) hangup() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up.(*net.TCPConn).Close()
	p.down.Close()
}

// TestVanishedAttacherWithBlockedStdinEndsSession: the attach form of the
// test above. Detaching never stops the container, so the outcome is the
// session's end: Shutdown finds no session left to abort.
func TestVanishedAttacherWithBlockedStdinEndsSession(t *testing.T) {
	for _, wire := range []string{"websocket", "spdy"} {
		for _, tty := range []bool{false, true} {
			for _, end := range []string{"reset", "close"} {
				t.Run(fmt.Sprintf("%s/tty=%v/%s", wire, tty, end), func(t *testing.T) {
					base, n := startStdinNode(t, tty)
					p := newFaultProxy(t, strings.TrimPrefix(base, "http://"))
					c := dialStdinAttach(t, "http://"+p.addr(), wire, tty)
					streamtest.FloodUntilBlocked(t, c.stdin)
					if end == "reset" {
						p.kill()
					} else {
						p.hangup()
					}
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					defer cancel()
					if err := n.Shutdown(ctx); err != nil {
						t.Fatalf("the session outlived its client: %v", err)
					}
					_ = c.conn.Abort("test over")
					c.wg.Wait()
				})
			}
		}
	}
}

// dialStdinAttach attaches to p/c with stdin and stdout (and stderr
// without a tty) on wire and drains the outputs.
func dialStdinAttach(t *testing.T, base, wire string, tty bool) *stdinExec {
	t.Helper()
	u := base + "/api/v1/namespaces/default/pods/p/attach?container=c&stdin=true&stdout=true"
	if tty {
		u += "&tty=true"
	} else {
		u += "&stderr=true"
	}
	return dialStdinSession(t, u, wire, tty)
}

// startStdinNode serves pod "p" whose container "c" has stdin open and
// never reads it.
func startStdinNode(t *testing.T, tty bool) (string, *node.Node) {
	c := streamtest.Container("c", "sleep", "100000")
	c.Stdin, c.TTY = true, tty
	n := streamtest.StartNode(t, []*kube.Pod{streamtest.Pod("p", c)}, &streamtest.NodeOptions{
		Runtime: localrt.Options{KillGrace: 200 * time.Millisecond}})
	return n.URL, n.Node
}
