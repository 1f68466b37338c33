package hangup

import (
	"net"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// waitGone polls Gone, which has nothing to wait on by design.
func waitGone(t *testing.T, c net.Conn) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !Gone(c); {
		if time.Now().After(deadline) {
			t.Fatal("peer's end not seen")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGoneSeesFINBehindUnreadData(t *testing.T) {
	c, s := pair(t)
	if Gone(s) {
		t.Fatal("gone while the peer is there")
	}
	c.Write([]byte("unread"))
	c.Close()
	waitGone(t, s)
}

func TestGoneSeesReset(t *testing.T) {
	c, s := pair(t)
	c.SetLinger(0)
	c.Close()
	waitGone(t, s)
}

func TestQuiet(t *testing.T) {
	_, s := pair(t)
	if !Quiet(s) {
		t.Fatal("fresh connection not quiet")
	}
	if Quiet(nil) || Gone(nil) {
		t.Fatal("nil conn: want false")
	}
}
