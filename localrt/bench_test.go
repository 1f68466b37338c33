package localrt

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// rfDiscard is a transport-like sink: it implements io.ReaderFrom, reading
// into its own bounded buffer, and counts the bytes.
type rfDiscard struct {
	n   int64
	buf []byte
}

func (d *rfDiscard) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return len(p), nil
}

func (d *rfDiscard) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		n, err := r.Read(d.buf)
		total += int64(n)
		d.n += int64(n)
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// BenchmarkExecThroughput measures exec stdout throughput with the kernel's
// default pipe (64 KiB) and a 1 MiB one (F_SETPIPE_SZ), for a sink reading
// 32 KiB and 256 KiB at a time.
func BenchmarkExecThroughput(b *testing.B) {
	const size = 64 << 20
	r := start(b, testPod("p", kube.Container{}, ""))
	waitPod(b, r, "p", "running", isRunning)
	for _, pipe := range []int{0, 1 << 20} {
		for _, chunk := range []int{32 << 10, 256 << 10} {
			name := "pipe=default"
			if pipe > 0 {
				name = "pipe=" + strconv.Itoa(pipe>>10) + "KiB"
			}
			b.Run(name+"/read="+strconv.Itoa(chunk>>10)+"KiB", func(b *testing.B) {
				r.pipeSize = pipe
				sink := &rfDiscard{buf: make([]byte, chunk)}
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					sink.n = 0
					err := r.Exec(context.Background(), ref("p", "main"), []string{"head", "-c", strconv.Itoa(size), "/dev/zero"}, node.Streams{Stdout: sink})
					if err != nil || sink.n != size {
						b.Fatalf("Exec: %v, %d bytes, want %d", err, sink.n, size)
					}
				}
			})
		}
	}
}

// BenchmarkExecTrueHoldingDescriptors measures an exec of `true` while the
// server holds many descriptors (as one holding thousands of sessions
// does), started directly (fork copies the whole table) and through the
// spawn helper, and with few descriptors for reference.
func BenchmarkExecTrueHoldingDescriptors(b *testing.B) {
	for _, held := range []int{0, 2000, 19000} {
		for _, via := range []struct {
			name string
			at   int
		}{{"direct", -1}, {"helper", 0}} {
			b.Run("fds="+strconv.Itoa(held)+"/"+via.name, func(b *testing.B) {
				files := holdDescriptors(b, held)
				defer closeAll(files)
				r := start(b, testPod("p", kube.Container{}, ""))
				waitPod(b, r, "p", "running", isRunning)
				r.helperAt = via.at
				r.spawn.helperAt = via.at
				for b.Loop() {
					if err := r.Exec(context.Background(), ref("p", "main"), []string{"true"}, node.Streams{Stdout: io.Discard}); err != nil {
						b.Fatalf("Exec: %v", err)
					}
				}
			})
		}
	}
}

// holdDescriptors opens n descriptors (raising the soft open-file limit as
// far as needed and allowed); the caller closes them.
func holdDescriptors(b *testing.B, n int) []*os.File {
	b.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n)+512 {
		lim.Cur = min(lim.Max, uint64(n)+512)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		if lim.Cur < uint64(n)+512 {
			b.Skipf("open-file limit %d: cannot hold %d descriptors", lim.Cur, n)
		}
	}
	files := make([]*os.File, 0, n)
	for len(files) < n {
		f, err := os.Open(os.DevNull)
		if err != nil {
			closeAll(files)
			b.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}
