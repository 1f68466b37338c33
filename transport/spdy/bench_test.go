package spdy

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
)

// BenchmarkStreamThroughput: bytes written into a pipe, copied by io.Copy
// (our ReadFrom, waiting for readability first) onto a SPDY stream over
// loopback TCP, read by the client. The frame size sub-benchmarks are how
// defaultFrameSize was chosen.
func BenchmarkStreamThroughput(b *testing.B) {
	for _, fs := range []int{16 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("frame=%dKiB", fs>>10), func(b *testing.B) { benchThroughput(b, fs) })
	}
}

func benchThroughput(b *testing.B, frame int) {
	ts := newTestServer(b, serverOpts())
	client, server := dialPair(b, ts, nil)
	server.setFrameSize(frame)
	cOut, sOut := openPair(b, client, server, "stdout")
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 256 << 10
	payload := make([]byte, chunk)
	copyDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(sOut, pr)
		pr.Close()
		sOut.CloseWrite()
		copyDone <- err
	}()
	readDone := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, cOut)
		readDone <- n
	}()
	b.SetBytes(chunk)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := pw.Write(payload); err != nil {
			b.Fatal(err)
		}
	}
	pw.Close()
	if err := <-copyDone; err != nil {
		b.Fatal(err)
	}
	if n := <-readDone; n != int64(b.N)*chunk {
		b.Fatalf("read %d bytes, want %d", n, int64(b.N)*chunk)
	}
	b.StopTimer()
	server.Close()
	client.Close()
}

// BenchmarkIdleSession: the Go heap an idle exec connection holds, both
// ends together (client and server in this process): five streams opened
// and accepted, one byte sent on stdout, then nothing. Run with
// -benchtime=Nx; the figure is heap-B/session.
func BenchmarkIdleSession(b *testing.B) {
	ts := newTestServer(b, serverOpts())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		client, server := dialPair(b, ts, nil)
		var out *Stream
		for _, typ := range []string{"error", "stdin", "stdout", "stderr", "resize"} {
			opened, accepted := openPair(b, client, server, typ)
			if typ == "stdout" {
				out = opened
				if _, err := accepted.Write([]byte{'x'}); err != nil {
					b.Fatal(err)
				}
			}
		}
		var one [1]byte
		if _, err := io.ReadFull(out, one[:]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/session")
}
