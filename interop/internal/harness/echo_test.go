package harness

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPushThrough: PushThrough passes a forwarder that carries the bytes
// and the half-close, and fails one that adds a byte, loses one, or never
// ends the echo, saying which.
func TestPushThrough(t *testing.T) {
	f, err := WriteDataFile(filepath.Join(t.TempDir(), "data"), 300<<10, 7)
	if err != nil {
		t.Fatal(err)
	}
	echo := StartEcho(t)
	for _, tc := range []struct {
		name string
		back func(dst *net.TCPConn, src io.Reader, quit <-chan struct{}) // echo to client
		want string                                                      // in the error; none: PushThrough passes
	}{
		{"faithful", func(dst *net.TCPConn, src io.Reader, _ <-chan struct{}) { io.Copy(dst, src); dst.CloseWrite() }, ""},
		{"byte-too-many", func(dst *net.TCPConn, src io.Reader, _ <-chan struct{}) {
			io.Copy(dst, src)
			dst.Write([]byte{0})
			dst.CloseWrite()
		}, "bytes back before the end"},
		{"byte-too-few", func(dst *net.TCPConn, src io.Reader, _ <-chan struct{}) {
			io.CopyN(dst, src, f.Size-1)
			io.Copy(io.Discard, src)
			dst.CloseWrite()
		}, "bytes back before the end"},
		{"no-end", func(dst *net.TCPConn, src io.Reader, quit <-chan struct{}) {
			io.Copy(dst, src)
			<-quit // neither the half-close nor a close: a frozen forwarder
		}, "no end before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := forwarder(t, echo.Port(), tc.back)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			err := PushThrough(ctx, addr, f)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("PushThrough: %v", err)
			case tc.want != "" && err == nil:
				t.Fatal("PushThrough passed a forwarder that changed the echo or never ended it")
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("PushThrough: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// forwarder is a one-connection TCP forwarder to the echo on port, which
// carries the client's half-close and sends the echo back through back.
func forwarder(t *testing.T, port int, back func(dst *net.TCPConn, src io.Reader, quit <-chan struct{})) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done, quit := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(quit); ln.Close(); <-done })
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
		back(c.(*net.TCPConn), up, quit)
		<-sent
	}()
	return ln.Addr().String()
}
