package serve

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
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
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			local, stop := kubectlPortForward(t, kubectlBin(t, v), kc, nil, echo.port())
			defer stop()
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
					t.Errorf("connection %d: got %q (%v), want %q", i, got, err, "echo:"+msg)
				}
			}
		})
	}
}
