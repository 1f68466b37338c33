package officialclients

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/interop/internal/official"
)

// at is a pod of the shared serve, or of the server of kubeconfig.
func at(kubeconfig, pod string) official.Target {
	if kubeconfig == "" {
		kubeconfig = env.Server.Kubeconfig
	}
	return official.Target{Kubeconfig: kubeconfig, Namespace: harness.Namespace, Pod: pod, Container: harness.ContainerMain}
}

// TestExecBigStdin: each official client writes stdin of 2, 8 and 32 MiB
// as one message each (the Python client lost the session on any write
// over 1 MiB before porthole accepted them); the pod hashes exactly what
// arrived, and the client reads the remote exit code 3.
func TestExecBigStdin(t *testing.T) {
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			for _, size := range []int{2 << 20, 8 << 20, 32<<20 - 1} {
				t.Run(strconv.Itoa(size)+"B", func(t *testing.T) { c.Exec(t, at("", harness.PodExec), size) })
			}
		})
	}
}

// TestOfficialAttach: each official client attaches to the cat pod over
// serve's HTTPS, writes a unique line and reads it back.
func TestOfficialAttach(t *testing.T) {
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) { c.Attach(t, at("", harness.PodCat)) })
	}
}

// TestOfficialTTYResize: each official client opens a tty exec, sets the
// terminal to 100x40 its own way (Python on channel 4, JavaScript from a
// stdout with rows and columns), sees stty report it, and gets exit code 5.
func TestOfficialTTYResize(t *testing.T) {
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) { c.TTYResize(t, at("", harness.PodExec)) })
	}
}

// TestOfficialPortForward: each official client forwards to an echo server
// on the pod's network (the local runtime's is this machine's) and gets
// every byte of 2 MiB back, checksummed.
func TestOfficialPortForward(t *testing.T) {
	echo := startEcho(t)
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			c.PortForward(t, at("", harness.PodExec), echo.port(), 2<<20, echo.String)
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

// String lists the bytes echoed by each ended connection.
func (e *echoServer) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprint(e.echoed)
}
