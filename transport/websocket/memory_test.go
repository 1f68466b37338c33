package websocket

import (
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/protocol/channel"
)

// idleSessions opens n sessions whose server streams an idle pipe to stdout
// with ReadFrom, and returns once every server has delivered a first byte
// and holds no pooled buffer. stop ends them all.
func idleSessions(t *testing.T, n int, pool *pump.Pool) (stop func()) {
	t.Helper()
	var pipes sync.WaitGroup
	writers := make(chan *os.File, n)
	url, _, closed := serve(t, &AcceptOptions{pool: pool}, func(c *Conn) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Error(err)
			return
		}
		defer pr.Close()
		writers <- pw
		io.Copy(c.Channel(channel.Stdout), pr)
	})
	clients := make([]*Conn, n)
	for i := range clients {
		c, _, err := Dial(context.Background(), url, &DialOptions{PingInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
		pw := <-writers
		pw.Write([]byte("x"))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c.Channel(channel.Stdout), b); err != nil {
			t.Fatal(err)
		}
		pipes.Add(1)
		go func() { defer pipes.Done(); <-c.Done(); pw.Close() }()
	}
	// The last Put follows each send; wait for it without timing.
	for pool.InUse() != 0 {
		runtime.Gosched()
	}
	return func() {
		for _, c := range clients {
			c.Close()
		}
		for range n {
			<-closed
		}
		pipes.Wait()
	}
}

// TestIdleSessionMemory measures what an idle session costs: both ends of
// the connection, the server's handler parked in ReadFrom on an idle pipe.
// No pooled buffer may be held; the total stays within budget.
func TestIdleSessionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens hundreds of connections")
	}
	const n = 200
	pool := pump.NewPool(serverMsgMax)
	heap0, stack0 := liveBytes()
	stop := idleSessions(t, n, pool)
	heap1, stack1 := liveBytes()
	heap, stack := (int64(heap1)-int64(heap0))/n, (int64(stack1)-int64(stack0))/n
	per := heap + stack
	t.Logf("idle session, client and server together: %d bytes (heap %d, stacks %d)", per, heap, stack)
	if pool.InUse() != 0 {
		t.Fatalf("idle sessions hold %d pooled buffers, want 0", pool.InUse())
	}
	// 32 KiB for the server side plus as much for our client and the
	// in-process HTTP plumbing of both ends.
	if per > 64<<10 && !raceEnabled {
		t.Errorf("idle session costs %d bytes, want <= 64 KiB for both ends", per)
	}
	stop()
}

func liveBytes() (heap, stack uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// BenchmarkReadFrom: pipe -> Channel.ReadFrom -> WebSocket -> client reader,
// for several message sizes (the server's pool size).
func BenchmarkReadFrom(b *testing.B) {
	for _, size := range []int{16 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) { benchReadFrom(b, size) })
	}
}

func benchReadFrom(b *testing.B, msg int) {
	const chunk = 1 << 20
	pool := pump.NewPool(msg)
	total := int64(b.N) * chunk
	url, _, closed := serve(b, &AcceptOptions{pool: pool}, func(c *Conn) {
		pr, pw, _ := os.Pipe()
		defer pr.Close()
		go func() {
			buf := make([]byte, chunk)
			for range b.N {
				pw.Write(buf)
			}
			pw.Close()
		}()
		io.Copy(c.Channel(channel.Stdout), pr)
	})
	c, _, err := Dial(context.Background(), url, &DialOptions{PingInterval: -1, ReadLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(chunk)
	b.ReportAllocs()
	b.ResetTimer()
	n, err := io.Copy(io.Discard, c.Channel(channel.Stdout))
	b.StopTimer()
	if err != nil || n != total {
		b.Fatalf("got %d bytes, %v; want %d", n, err, total)
	}
	c.Close()
	<-closed
}

func byteSize(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MiB"
	}
	return strconv.Itoa(n>>10) + "KiB"
}

// TestWriteAllocs pins the server's write path: framing into a pooled
// buffer and the frame write allocate nothing per message.
func TestWriteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	conns := make(chan *Conn, 1)
	url, _, _ := serve(t, nil, func(c *Conn) {
		conns <- c
		<-c.Done()
	})
	c, _, err := Dial(context.Background(), url, &DialOptions{PingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { io.Copy(io.Discard, c.Channel(channel.Stdout)); close(drained) }()
	defer func() {
		c.Close()
		<-drained
	}()
	s := <-conns
	stdout := s.Channel(channel.Stdout)
	payload := make([]byte, 100)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := stdout.Write(payload); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Write: got %v allocs per message, want 0", allocs)
	}
}
