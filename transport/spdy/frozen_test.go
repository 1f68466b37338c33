package spdy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/protocol"
)

// pattern is an endless, cheap, deterministic byte source, so that a large
// transfer does not itself occupy the heap we measure.
type pattern struct{ n uint64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.n*2654435761>>13) ^ byte(p.n>>8)
		p.n++
	}
	return len(b), nil
}

// patternSum is the sha256 of the first n pattern bytes.
func patternSum(n int64) [32]byte {
	h := sha256.New()
	io.CopyN(h, &pattern{}, n)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// writePattern writes n pattern bytes to w in 32 KiB writes, counting progress.
func writePattern(w io.Writer, n int64, progress *atomic.Int64, h hash.Hash) error {
	src := &pattern{}
	buf := make([]byte, 32<<10)
	for progress.Load() < n {
		k := min(int64(len(buf)), n-progress.Load())
		src.Read(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		progress.Add(k)
	}
	return nil
}

// waitBlockedInIO waits until some goroutine whose stack contains fn is
// parked on the network poller: a state, observed, not a duration.
func waitBlockedInIO(t *testing.T, fn string) {
	t.Helper()
	buf := make([]byte, 1<<22)
	waitFor(t, func() bool {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "[IO wait") && strings.Contains(g, fn) {
				return true
			}
		}
		return false
	})
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A client that stops reading stdout: the server's Write blocks on TCP, the
// heap stays small (spdystream queues a bounded number of frames, nobody
// buffers the rest), the other direction of the same connection and other
// connections keep working, and once the client reads again every byte
// arrives intact.
func TestFrozenReader(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	cIn, sIn := openPair(t, client, server, "stdin")
	cOut, sOut := openPair(t, client, server, "stdout")

	const total = 64 << 20
	base := heapInUse()
	var progress atomic.Int64
	writeDone := make(chan error, 1)
	go func() {
		err := writePattern(sOut, total, &progress, nil)
		if err == nil {
			err = sOut.CloseWrite()
		}
		writeDone <- err
	}()
	waitBlockedInIO(t, "spdy.(*Stream).Write")

	if p := progress.Load(); p >= total {
		t.Fatalf("writer finished %d bytes with nobody reading", p)
	}
	if grown := int64(heapInUse()) - int64(base); grown > 16<<20 {
		t.Errorf("heap grew by %d MiB while the reader was frozen; want < 16 MiB", grown>>20)
	}
	t.Logf("frozen after %d MiB written", progress.Load()>>20)

	// client→server still flows on the frozen connection.
	if _, err := cIn.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if _, err := io.ReadFull(sIn, got); err != nil || string(got) != "still here" {
		t.Fatalf("stdin during freeze: %q, %v", got, err)
	}
	// Another connection is unaffected.
	c2, s2 := dialPair(t, ts, nil)
	a, b := openPair(t, c2, s2, "stdout")
	b.Write([]byte("other"))
	b.CloseWrite()
	if got, err := io.ReadAll(a); err != nil || string(got) != "other" {
		t.Fatalf("second connection: %q, %v", got, err)
	}

	// Resume.
	n, sum, err := readAllSum(cOut)
	if err != nil || n != total || sum != patternSum(total) {
		t.Fatalf("after resume read %d bytes (err %v, sum ok %v), want %d", n, err, sum == patternSum(total), total)
	}
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
}

// The server finishes and closes while the client still has the tail of
// stdout unread, and the client keeps pinging and writing stdin throughout
// (the inbound data a non-lingering close would answer with a TCP RST,
// making the client's kernel drop the unread tail). Every byte arrives and
// both sides end cleanly.
func TestSlowReaderTail(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, &DialOptions{Protocols: protocol.SPDYClientOffer, PingPeriod: time.Millisecond})
	cErr, sErr := openPair(t, client, server, "error")
	cIn, _ := openPair(t, client, server, "stdin")
	cOut, sOut := openPair(t, client, server, "stdout")

	const total, tail = 4 << 20, 1 << 20
	status := []byte(`{"status":"Success"}`)
	closing := make(chan struct{})
	serverDone := make(chan error, 1)
	go func() {
		var progress atomic.Int64
		err := writePattern(sOut, total, &progress, nil)
		if err == nil {
			err = errors.Join(sOut.CloseWrite(), writeAll(sErr, status), sErr.CloseWrite())
		}
		close(closing)
		serverDone <- errors.Join(err, server.Close())
	}()

	h := sha256.New()
	if _, err := io.CopyN(h, cOut, total-tail); err != nil {
		t.Fatal(err)
	}
	<-closing // the server is closing; a MiB is still unread on our side
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		junk := bytes.Repeat([]byte("x"), 4096)
		for i := 0; i < 64; i++ {
			if _, err := cIn.Write(junk); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 512) // read the tail slowly
	var n int64
	for {
		k, err := cOut.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("tail read after %d bytes: %v", n, err)
		}
	}
	if n != tail || !bytes.Equal(h.Sum(nil), sumSlice(patternSum(total))) {
		t.Fatalf("tail: %d bytes, want %d; checksum match %v", n, tail, bytes.Equal(h.Sum(nil), sumSlice(patternSum(total))))
	}
	if got, err := io.ReadAll(cErr); err != nil || !bytes.Equal(got, status) {
		t.Fatalf("error stream %q, %v", got, err)
	}
	<-client.Done()
	if err := client.Err(); err != nil {
		t.Errorf("client Err: %v", err)
	}
	<-stdinDone
	client.Close()
	if err := <-serverDone; err != nil {
		t.Fatalf("server: %v", err)
	}
	if err := server.Err(); err != nil {
		t.Errorf("server Err: %v", err)
	}
}

func sumSlice(s [32]byte) []byte { return s[:] }

func writeAll(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}
