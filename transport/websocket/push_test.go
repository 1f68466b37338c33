package websocket

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol/channel"
)

// TestPushTo: a channel pushed into a pipe delivers every byte in order,
// those sent before PushTo too, with backpressure from a slow reader, and
// the peer's close signal closes the pipe (the reader gets EOF).
func TestPushTo(t *testing.T) {
	want := make([]byte, 3<<20+17)
	for i := range want {
		want[i] = byte(i * 7)
	}
	url, _, closed := serve(t, nil, func(c *Conn) {
		time.Sleep(100 * time.Millisecond) // the first messages wait for a consumer
		r, w, err := os.Pipe()
		if err != nil {
			t.Error(err)
			return
		}
		defer r.Close()
		c.Channel(channel.Stdin).PushTo(w)
		var got bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("read pipe: %v", err)
				return
			}
			if got.Len() < 1<<20 {
				time.Sleep(time.Millisecond) // slow at first: the pipe fills
			}
		}
		sum := sha256.Sum256(got.Bytes())
		c.Channel(channel.Stdout).Write(sum[:])
	})
	c, _, err := Dial(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	stdin := c.Channel(channel.Stdin)
	for p := want; len(p) > 0; {
		n := min(len(p), 50_000)
		if _, err := stdin.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	stdin.CloseWrite()
	got := readAll(t, c.Channel(channel.Stdout))
	if sum := sha256.Sum256(want); !bytes.Equal(got, sum[:]) {
		t.Errorf("the pipe's reader got other bytes than the %d sent", len(want))
	}
	c.Close()
	if res := <-closed; res.err != nil {
		t.Errorf("server Close: %v", res.err)
	}
}

// TestPushToEnds: the pipe closes when the connection ends, and a pipe
// whose reader went away drops the channel's data while the connection
// serves on.
func TestPushToEnds(t *testing.T) {
	t.Run("connection ends", func(t *testing.T) {
		eof := make(chan error, 1)
		url, _, _ := serve(t, nil, func(c *Conn) {
			r, w, _ := os.Pipe()
			defer r.Close()
			c.Channel(channel.Stdin).PushTo(w)
			_, err := io.ReadAll(r)
			eof <- err
		})
		c, _, err := Dial(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Channel(channel.Stdin).Write([]byte("x"))
		c.Abort("gone")
		select {
		case err := <-eof:
			if err != nil {
				t.Errorf("pipe read: %v, want EOF", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the pipe stayed open after the connection ended")
		}
	})
	t.Run("reader gone", func(t *testing.T) {
		url, _, closed := serve(t, nil, func(c *Conn) {
			r, w, _ := os.Pipe()
			r.Close()
			c.Channel(channel.Stdin).PushTo(w)
			// Stdin fails into the closed pipe and is dropped; the resize
			// channel still flows.
			got := make([]byte, 2)
			if _, err := io.ReadFull(c.Channel(channel.Resize), got); err != nil || string(got) != "ok" {
				t.Errorf("resize channel: %q %v", got, err)
			}
			c.Channel(channel.Stdout).Write([]byte("served"))
		})
		c, _, err := Dial(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Channel(channel.Stdin).Write(bytes.Repeat([]byte("y"), 300<<10))
		c.Channel(channel.Resize).Write([]byte("ok"))
		if got := readAll(t, c.Channel(channel.Stdout)); string(got) != "served" {
			t.Errorf("stdout %q", got)
		}
		c.Close()
		if res := <-closed; res.err != nil {
			t.Errorf("server Close: %v", res.err)
		}
	})
}
