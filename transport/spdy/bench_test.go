package spdy

import (
	"fmt"
	"io"
	"os"
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
	server.frameSize = frame
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
