package officialclients

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// official is one official client, run as a script with the mode's args
// against the server of kubeconfig (the shared serve's when empty).
type official struct {
	name       string
	need       func(*testing.T)
	cmd        func(ctx context.Context, kubeconfig, pod, container string, args ...string) *exec.Cmd
	kubeconfig string
}

func officials() []official {
	return []official{
		{name: "python", need: needPython, cmd: func(ctx context.Context, kc, pod, _ string, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, python, append([]string{"stream.py", kc, harness.Namespace, pod}, args...)...)
		}},
		{name: "javascript", need: needJS, cmd: func(ctx context.Context, kc, pod, container string, args ...string) *exec.Cmd {
			return exec.CommandContext(ctx, "node", append([]string{filepath.Join("js", "stream.js"), kc, harness.Namespace, pod, container}, args...)...)
		}},
	}
}

// run runs the client and decodes the JSON line it prints into v.
func (o official) run(t *testing.T, v any, pod, container string, args ...string) {
	t.Helper()
	o.need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := o.kubeconfig
	if kc == "" {
		kc = env.Server.Kubeconfig
	}
	cmd := o.cmd(ctx, kc, pod, container, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s client: %v\n%s%s", o.name, err, out, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s client printed %q: %v", o.name, out, err)
	}
}

// TestOfficialAttach: each official client attaches to the cat pod over
// serve's HTTPS, writes a unique line and reads it back.
func TestOfficialAttach(t *testing.T) {
	for _, o := range officials() {
		t.Run(o.name, o.testAttach)
	}
}

func (o official) testAttach(t *testing.T) {
	line := "attached-" + o.name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var got struct{ Stdout, Error string }
	o.run(t, &got, harness.PodCat, harness.ContainerMain, "attach", line)
	if got.Error != "" || !strings.Contains(got.Stdout, line) {
		t.Errorf("attach: %+v, want stdout with %q", got, line)
	}
}

// TestOfficialTTYResize: each official client opens a tty exec, sets the
// terminal to 100x40 its own way (Python on channel 4, JavaScript from a
// stdout with rows and columns), sees stty report it, and gets exit code 5.
func TestOfficialTTYResize(t *testing.T) {
	for _, o := range officials() {
		t.Run(o.name, o.testTTYResize)
	}
}

func (o official) testTTYResize(t *testing.T) {
	var got struct {
		Stdout, Error string
		Returncode    *int
		Status        struct {
			Reason  string
			Details struct {
				Causes []struct{ Reason, Message string }
			}
		}
	}
	o.run(t, &got, harness.PodExec, harness.ContainerMain, "tty")
	code := -1
	if got.Returncode != nil {
		code = *got.Returncode
	}
	for _, c := range got.Status.Details.Causes {
		if c.Reason == "ExitCode" {
			code, _ = strconv.Atoi(c.Message)
		}
	}
	if got.Error != "" || !strings.Contains(got.Stdout, "40 100\r\n") || code != 5 {
		t.Errorf("tty: error %q, exit %d, stdout %q; want 40 100 from stty and exit 5", got.Error, code, got.Stdout)
	}
}

// TestOfficialPortForward: each official client forwards to an echo server
// on the pod's network (the local runtime's is this machine's) and gets
// every byte of 2 MiB back, checksummed.
func TestOfficialPortForward(t *testing.T) {
	echo := startEcho(t)
	const n = 2 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), n/16)
	sum := sha256.Sum256(data)
	for _, o := range officials() {
		t.Run(o.name, func(t *testing.T) {
			var got struct {
				Bytes  int
				Sha256 string
				Error  *string
			}
			o.run(t, &got, harness.PodExec, harness.ContainerMain, "portforward", strconv.Itoa(n), strconv.Itoa(echo.port()))
			if got.Bytes != n || got.Sha256 != hex.EncodeToString(sum[:]) || (got.Error != nil && *got.Error != "") {
				echo.mu.Lock()
				echoed := echo.echoed
				echo.mu.Unlock()
				t.Errorf("port-forward: %d bytes, sha256 %s, error %v; want %d bytes of sha256 %x (echo server: %v)", got.Bytes, got.Sha256, *got.Error, n, sum, echoed)
			}
		})
	}
}

// echoServer echoes every connection on 127.0.0.1 until the test ends.
type echoServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	echoed []int64 // bytes echoed by each ended connection
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				n, _ := io.Copy(c, c)
				e.mu.Lock()
				e.echoed = append(e.echoed, n)
				e.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); e.wg.Wait() })
	return e
}

func (e *echoServer) port() int { return e.ln.Addr().(*net.TCPAddr).Port }
