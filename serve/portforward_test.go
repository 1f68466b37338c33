package serve

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// echoServer accepts connections on a loopback port and echoes each one
// back what it reads, prefixed by "echo:". close joins
// every goroutine.
type echoServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func newEchoServer(t *testing.T) *echoServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go e.acceptLoop()
	t.Cleanup(e.close)
	return e
}

func (e *echoServer) port() int { return e.ln.Addr().(*net.TCPAddr).Port }

func (e *echoServer) acceptLoop() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.wg.Add(1)
		go e.echo(c)
	}
}

func (e *echoServer) echo(c net.Conn) {
	defer e.wg.Done()
	defer c.Close()
	io.WriteString(c, "echo:")
	io.Copy(c, c)
}

func (e *echoServer) close() {
	e.ln.Close()
	e.wg.Wait()
}

// TestKubectlPortForward: `kubectl port-forward demo :PORT` reaches a port
// on the pod's address (the loopback, for the local runtime) through the
// server, both ways, with half-close.
func TestKubectlPortForward(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	kc := startKubectlServer(t)
	echo := newEchoServer(t)
	forwarding := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> ` + strconv.Itoa(echo.port()) + `$`)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			bin := kubectlBin(t, v)
			home := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--kubeconfig", kc, "--cache-dir", filepath.Join(home, "cache"),
				"port-forward", "--address", "127.0.0.1", "demo", ":"+strconv.Itoa(echo.port()))
			cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Kill()
				io.Copy(io.Discard, stdout)
				cmd.Wait()
			}()
			sc := bufio.NewScanner(stdout)
			var local string
			for local == "" && sc.Scan() {
				if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
					local = m[1]
				}
			}
			if local == "" {
				t.Fatalf("no forwarding line; stderr %s", stderr.String())
			}
			for i := range 2 { // two connections over the one session
				c, err := net.Dial("tcp", "127.0.0.1:"+local)
				if err != nil {
					t.Fatal(err)
				}
				msg := "hello " + v + " #" + strconv.Itoa(i)
				io.WriteString(c, msg)
				c.(*net.TCPConn).CloseWrite()
				got, err := io.ReadAll(c)
				c.Close()
				if err != nil || string(got) != "echo:"+msg {
					t.Errorf("connection %d: got %q (%v), want %q; stderr %s", i, got, err, "echo:"+msg, stderr.String())
				}
			}
		})
	}
}
