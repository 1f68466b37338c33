package cp

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// cutProxy forwards TCP connections to upstream and, once, closes the
// first connection that has carried more than cutAfter bytes downstream:
// the connection dies under a running session, as when a network path or
// an API server goes away.
type cutProxy struct {
	ln       net.Listener
	upstream string
	cutAfter int64
	cut      atomic.Bool
	wg       sync.WaitGroup
}

func startCutProxy(t *testing.T, upstream string, cutAfter int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, upstream: upstream, cutAfter: cutAfter}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve splices one connection; closing both ends ends both copies.
func (p *cutProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go p.upstreamCopy(up, c, done)
	p.downstreamCopy(c, up)
	c.Close()
	up.Close()
	<-done
}

func (p *cutProxy) upstreamCopy(up, c net.Conn, done chan<- struct{}) {
	defer close(done)
	_, _ = io.Copy(up, c)
	up.Close()
}

// downstreamCopy copies upstream to the client until the cut (once).
func (p *cutProxy) downstreamCopy(c, up net.Conn) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		m, err := up.Read(buf)
		if m > 0 {
			if _, werr := c.Write(buf[:m]); werr != nil {
				return
			}
			n += int64(m)
			if n > p.cutAfter && p.cut.CompareAndSwap(false, true) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestCopyResumeConnectionCut: the TCP connection under a download dies
// mid-stream (a real cut, not a polite end); with --retries the copy
// reconnects, resumes at the byte count it had, and the file arrives
// whole. Without --retries the copy fails and leaves no partial file.
func TestCopyResumeConnectionCut(t *testing.T) {
	dir := t.TempDir()
	src, err := harness.WriteDataFile(filepath.Join(dir, "data.bin"), 32*harness.MiB, 11)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := func(t *testing.T, p *cutProxy) string {
		b, err := os.ReadFile(env.Server.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), env.Server.Addr) {
			t.Fatalf("kubeconfig does not name %s", env.Server.Addr)
		}
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), env.Server.Addr, p.ln.Addr().String())), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("retries", func(t *testing.T) {
		p := startCutProxy(t, env.Server.Addr, 8*harness.MiB)
		dest := filepath.Join(t.TempDir(), "data.bin")
		r := mustCP(t, kubeconfig(t, p), "-c", harness.ContainerMain, "--retries", "2", harness.PodExec+":"+src.Path, dest)
		if !p.cut.Load() {
			t.Fatal("the proxy never cut a connection")
		}
		if got := fileSum(t, dest); got != src.SHA256 {
			t.Errorf("sha256 %s, want %s", got, src.SHA256)
		}
		if !regexp.MustCompile(`Resuming copy at [1-9][0-9]* bytes, retry 1/2\n`).MatchString(r.stdout) {
			t.Errorf("stdout %q: want the resume notice", r.stdout)
		}
	})
	t.Run("no-retries", func(t *testing.T) {
		p := startCutProxy(t, env.Server.Addr, 8*harness.MiB)
		destDir := t.TempDir()
		r := runCP(t, kubeconfig(t, p), "-c", harness.ContainerMain, harness.PodExec+":"+src.Path, filepath.Join(destDir, "data.bin"))
		if r.code == 0 || !p.cut.Load() {
			t.Fatalf("exit %d after cut=%v; want a failure after the cut", r.code, p.cut.Load())
		}
		if !strings.Contains(r.stderr, "error: ") {
			t.Errorf("stderr %q: want the error", r.stderr)
		}
		t.Logf("stderr: %s", r.stderr)
		if entries, _ := os.ReadDir(destDir); len(entries) != 0 {
			t.Errorf("left behind %v, want nothing", entries)
		}
	})
}
