package harness

import (
	"io"
	"net"
	"path/filepath"
	"testing"
)

// TestPushThrough: PushThrough passes a forwarder that carries the bytes
// and the half-close, and fails one that adds a byte, loses one, or never
// ends the echo.
func TestPushThrough(t *testing.T) {
	f, err := WriteDataFile(filepath.Join(t.TempDir(), "data"), 300<<10, 7)
	if err != nil {
		t.Fatal(err)
	}
	echo := StartEcho(t)
	for _, tc := range []struct {
		name string
		back func(dst *net.TCPConn, src io.Reader) // echo to client
		ok   bool
	}{
		{"faithful", func(dst *net.TCPConn, src io.Reader) { io.Copy(dst, src); dst.CloseWrite() }, true},
		{"byte-too-many", func(dst *net.TCPConn, src io.Reader) { io.Copy(dst, src); dst.Write([]byte{0}); dst.CloseWrite() }, false},
		{"byte-too-few", func(dst *net.TCPConn, src io.Reader) {
			io.CopyN(dst, src, f.Size-1)
			io.Copy(io.Discard, src)
			dst.CloseWrite()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := forwarder(t, echo.Port(), tc.back)
			err := PushThrough(t.Context(), addr, f)
			if tc.ok && err != nil {
				t.Fatalf("PushThrough: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("PushThrough passed a forwarder that changed the echo")
			}
		})
	}
}

// forwarder is a one-connection TCP forwarder to the echo on port, which
// carries the client's half-close and sends the echo back through back.
func forwarder(t *testing.T, port int, back func(dst *net.TCPConn, src io.Reader)) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		up, err := net.DialTCP("tcp4", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			return
		}
		defer up.Close()
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			io.Copy(up, c)
			up.CloseWrite()
		}()
		back(c.(*net.TCPConn), up)
		<-sent
	}()
	return ln.Addr().String()
}
