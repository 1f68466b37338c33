package spdy

import (
	"bytes"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/protocol/portforward"
)

// frameTap records the DATA frames written through it (their lengths, per
// stream), following the byte stream with a FrameScanner.
type frameTap struct {
	net.Conn
	mu     sync.Mutex
	sc     FrameScanner
	frames map[uint32][]int
}

func newFrameTap(c net.Conn) *frameTap {
	t := &frameTap{Conn: c, frames: make(map[uint32][]int)}
	t.sc.Frame = func(f *Frame) (bool, error) {
		if !f.Control {
			t.frames[f.StreamID] = append(t.frames[f.StreamID], f.Length)
		}
		return false, nil
	}
	return t
}

func (t *frameTap) Write(p []byte) (int, error) {
	t.mu.Lock()
	err := t.sc.Feed(p)
	t.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return t.Conn.Write(p)
}

func (t *frameTap) dataFrames(id uint32) []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.frames[id])
}

// tappedPair connects a client to a server whose writes go through a tap.
func tappedPair(t *testing.T) (client, server *Conn, tap *frameTap) {
	a, b := tcpPair(t)
	client, err := NewClient(a, portforward.Name, &DialOptions{PingPeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	tap = newFrameTap(b)
	server, err = NewServer(tap, portforward.Name, nil)
	if err != nil {
		client.Abort("test")
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Abort("test cleanup")
		server.Abort("test cleanup")
	})
	return client, server, tap
}

// outputPipe is a pipe with a 1 MiB buffer, as localrt gives a process's
// output.
func outputPipe(t *testing.T) (r, w *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	rc, err := w.SyscallConn() // not Fd: that would make w blocking
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { _, serr = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) }); err != nil || serr != nil {
		t.Fatalf("F_SETPIPE_SZ: %v %v", err, serr)
	}
	return r, w
}

// Output already in the pipe leaves in 64 KiB frames (readFromFrameSize;
// the last one shorter), then a FIN; every byte arrives.
func TestReadFromCoalescesReadableOutput(t *testing.T) {
	client, server, tap := tappedPair(t)
	cOut, sOut := openPair(t, client, server, "stdout")
	pr, pw := outputPipe(t)
	const frame = 64 << 10
	data := randomBytes(t, 3*frame+8<<10+17)
	if _, err := pw.Write(data); err != nil { // fits: nothing blocks
		t.Fatal(err)
	}
	pw.Close()
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(sOut, pr)
		if err == nil {
			err = sOut.CloseWrite()
		}
		copied <- err
	}()
	got, err := io.ReadAll(cOut)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("client read %d bytes (err %v), want %d, equal %v", len(got), err, len(data), bytes.Equal(got, data))
	}
	if err := <-copied; err != nil {
		t.Fatal(err)
	}
	want := []int{frame, frame, frame, 8<<10 + 17, 0}
	if got := tap.dataFrames(sOut.ID()); !slices.Equal(got, want) {
		t.Fatalf("DATA frame lengths %v, want %v", got, want)
	}
}

// Interactive output leaves at once, each write of the process in a frame
// of its own: ReadFrom sends what is readable and never waits for more.
func TestReadFromSendsSmallOutputAtOnce(t *testing.T) {
	client, server, tap := tappedPair(t)
	cOut, sOut := openPair(t, client, server, "stdout")
	pr, pw := outputPipe(t)
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(sOut, pr)
		copied <- err
	}()
	var want []int
	for _, msg := range []string{"$ ", "total 0\n", string(bytes.Repeat([]byte("x"), 3000))} {
		if _, err := pw.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		// The pipe's writer is still open: this read needs the frame now.
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(cOut, got); err != nil || string(got) != msg {
			t.Fatalf("read %q (err %v), want %q", got, err, msg)
		}
		want = append(want, len(msg))
	}
	if got := tap.dataFrames(sOut.ID()); !slices.Equal(got, want) {
		t.Fatalf("DATA frame lengths %v, want %v", got, want)
	}
	pw.Close()
	if err := <-copied; err != nil {
		t.Fatal(err)
	}
}

// A client that stops reading: ReadFrom blocks on TCP holding one pooled
// frame, the process's pipe fills (backpressure to the process), the heap
// stays small, and once the client reads every byte arrives intact.
func TestReadFromFrozenReaderBounded(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	cOut, sOut := openPair(t, client, server, "stdout")
	pr, pw := outputPipe(t)

	const total = 64 << 20
	base := heapInUse()
	var progress atomic.Int64
	writeDone := make(chan error, 1)
	go func() {
		err := writePattern(pw, total, &progress, nil)
		pw.Close()
		writeDone <- err
	}()
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(sOut, pr)
		if err == nil {
			err = sOut.CloseWrite()
		}
		copied <- err
	}()
	waitBlockedInIO(t, "spdy.(*Stream).ReadFrom")
	waitBlockedInIO(t, "spdy.writePattern") // the pipe is full too

	if p := progress.Load(); p >= total {
		t.Fatalf("process wrote all %d bytes with nobody reading", p)
	}
	if n := server.pool.InUse(); n > 1 {
		t.Errorf("%d frame buffers in use while blocked, want at most 1", n)
	}
	if grown := int64(heapInUse()) - int64(base); grown > 16<<20 {
		t.Errorf("heap grew by %d MiB while the reader was frozen; want < 16 MiB", grown>>20)
	}
	t.Logf("frozen after %d MiB written", progress.Load()>>20)

	n, sum, err := readAllSum(cOut)
	if err != nil || n != total || sum != patternSum(total) {
		t.Fatalf("after resume read %d bytes (err %v, sum ok %v), want %d", n, err, sum == patternSum(total), total)
	}
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
	if err := <-copied; err != nil {
		t.Fatal(err)
	}
}
