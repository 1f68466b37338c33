package node_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
)

// spdyTTY opens a tty exec over SPDY v4 with stdin, stdout and resize.
func spdyTTY(t *testing.T, base string, cmd []string) (conn *spdy.Conn, stdin, stdout, resizeS, errs stream.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	conn, _, err := spdy.Dial(ctx, execURL(base, "p", cmd, "stdin", "stdout", "tty"), &spdy.DialOptions{Protocols: []string{protocol.V4}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	open := func(typ string) stream.Stream {
		s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
		if err != nil {
			t.Fatalf("open %s: %v", typ, err)
		}
		return s
	}
	errs, stdin, stdout, resizeS = open("error"), open("stdin"), open("stdout"), open("resize")
	return conn, stdin, stdout, resizeS, errs
}

func TestTTYInitialSizeInForceBeforeStart(t *testing.T) {
	base := startNode(t)
	for i := 0; i < 10; i++ {
		_, stdin, stdout, rs, errs := spdyTTY(t, base, []string{"stty", "size"})
		if _, err := rs.Write(sizeMsg(123, 45)); err != nil {
			t.Fatal(err)
		}
		out, st := streamtest.ReadAll(stdout), streamtest.ReadAll(errs)
		_ = stdin.CloseWrite()
		if got := string(<-out); got != "45 123\r\n" {
			t.Fatalf("run %d: stty size printed %q, want %q", i, got, "45 123\r\n")
		}
		if got := string(<-st); got != wantStatus(protocol.SPDYVersions[0], 0) {
			t.Fatalf("status %q", got)
		}
	}
}

func TestTTYResizeReachesProcess(t *testing.T) {
	base := startNode(t)
	_, stdin, stdout, rs, _ := spdyTTY(t, base, []string{"sh"})
	rs.Write(sizeMsg(80, 24))
	chunks := make(chan []byte, 64)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 4096)
			n, err := stdout.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	var got bytes.Buffer
	waitFor := func(want string) {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for !strings.Contains(got.String(), want) {
			select {
			case c, ok := <-chunks:
				if !ok {
					t.Fatalf("stdout ended before %q (have %q)", want, got.String())
				}
				got.Write(c)
			case <-timeout:
				t.Fatalf("never saw %q in %q", want, got.String())
			}
		}
	}
	stdin.Write([]byte("stty size; echo A\"B\"\n"))
	waitFor("24 80\r\nAB")
	rs.Write(sizeMsg(200, 50))
	stdin.Write([]byte("stty size; echo C\"D\"\n"))
	waitFor("50 200\r\nCD")
	stdin.Write([]byte("exit 5\n"))
	for range chunks {
	}
}

func TestMalformedResizeEndsOnlyThatSession(t *testing.T) {
	base := startNode(t)
	marker := "4242.5151"
	conn, _, _, rs, _ := spdyTTY(t, base, []string{"sleep", marker})
	streamtest.WaitProc(t, marker, true)
	rs.Write([]byte(`{"Width": "wide"}`))
	select {
	case <-conn.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("session survived a malformed resize message")
	}
	streamtest.WaitProc(t, marker, false)
	out, _, st := spdyExec(t, base, protocol.V4, []string{"echo", "ok"}, nil)
	if string(out) != "ok\n" || string(st) != wantStatus(protocol.SPDYVersions[0], 0) {
		t.Fatalf("next session: %q %q", out, st)
	}
}

func TestVanishedClientLeavesNoProcess(t *testing.T) {
	base := startNode(t)
	for _, tty := range []bool{false, true} {
		marker := "1000.777"
		if tty {
			marker = "1000.778"
			conn, _, _, _, _ := spdyTTY(t, base, []string{"sh", "-c", "sleep " + marker + " & sleep " + marker + "1; wait"})
			streamtest.WaitProc(t, marker, true)
			conn.Abort("client gone")
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			conn, _, err := spdy.Dial(ctx, execURL(base, "p", []string{"sh", "-c", "sleep " + marker + " & sleep " + marker + "1; wait"}, "stdout"),
				&spdy.DialOptions{Protocols: []string{protocol.V4}})
			if err != nil {
				t.Fatal(err)
			}
			conn.Open(ctx, http.Header{"Streamtype": {"error"}})
			conn.Open(ctx, http.Header{"Streamtype": {"stdout"}})
			streamtest.WaitProc(t, marker, true)
			conn.Abort("client gone")
		}
		streamtest.WaitProc(t, marker, false)
	}
}

func TestExtraSPDYStreamIsResetAndSessionGoesOn(t *testing.T) {
	base := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := spdy.Dial(ctx, execURL(base, "p", []string{"sh", "-c", "read x; echo got $x"}, "stdin", "stdout"),
		&spdy.DialOptions{Protocols: []string{protocol.V4}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	open := func(typ string) stream.Stream {
		s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
		if err != nil {
			t.Fatalf("open %s: %v", typ, err)
		}
		return s
	}
	errs, stdin, stdout := open("error"), open("stdin"), open("stdout")
	extra, err := conn.Open(ctx, http.Header{"Streamtype": {"stdout"}})
	if err == nil {
		if _, rerr := extra.Read(make([]byte, 1)); rerr == nil {
			t.Fatal("extra stream was not reset")
		}
	}
	out, st := streamtest.ReadAll(stdout), streamtest.ReadAll(errs)
	stdin.Write([]byte("hello\n"))
	if got := string(<-out); got != "got hello\n" {
		t.Fatalf("stdout %q", got)
	}
	if got := string(<-st); got != wantStatus(protocol.SPDYVersions[0], 0) {
		t.Fatalf("status %q", got)
	}
}
