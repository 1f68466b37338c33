package portforward

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/interop/criref"
	"github.com/porthole/porthole/interop/internal/harness"
)

// restartRounds is how many times the server is killed under one forward.
const restartRounds = 2

// TestPortForwardSurvivesServerRestart kills `porthole serve` (SIGKILL, no
// goodbye on the wire) under a running `porthole port-forward` and starts it
// again on the same port: the command keeps its local port, says it lost
// and regained the connection, and new connections carry bytes again, on
// both wires, twice in a row, without restarting the command.
func TestPortForwardSurvivesServerRestart(t *testing.T) {
	bin := porthole(t)
	echoPort := startPodServer(t, echo)
	for _, wire := range []string{"websocket", "spdy"} {
		t.Run(wire, func(t *testing.T) {
			srv := startServe(t, bin, "127.0.0.1:0")
			cmd := exec.Command(bin, "port-forward", "--kubeconfig", srv.kubeconfig, "--address", "127.0.0.1",
				"--protocol", wire, "pod/pf", ":"+strconv.Itoa(echoPort))
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			s := startProcess(t, cmd, []int{echoPort})
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			defer cancel()
			must(t, echoBulk(ctx, s.locals[0], 16*harness.MiB, 1))
			for round := 1; round <= restartRounds; round++ {
				srv.kill(t)
				s.stderr.await(t, "lost connection to pod, reconnecting...\n", round, stopTimeout)
				srv = startServe(t, bin, srv.addr)
				s.stderr.await(t, "reconnected\n", round, stopTimeout)
				if err := echoBulk(ctx, s.locals[0], 16*harness.MiB, uint64(round+1)); err != nil {
					t.Fatalf("after restart %d: %v; stderr: %s", round, err, s.stderr.tail())
				}
			}
			s.stop(t)
		})
	}
}

// serveProc is one `porthole serve` process of the restart test.
type serveProc struct {
	addr, kubeconfig string
	cmd              *exec.Cmd
	ended            chan struct{}
}

var servingLine = regexp.MustCompile(`^porthole serving on http://(127\.0\.0\.1:\d+)$`)

// startServe runs porthole serve on addr with one pod, "pf", whose
// container is a sleep carrying a marker unique to the test: a killed
// server leaves its containers behind (they lead their own process groups),
// so cleanup kills the marked processes itself.
func startServe(t *testing.T, bin, addr string) *serveProc {
	t.Helper()
	dir := t.TempDir()
	marker := fmt.Sprintf("%d.%06d", 86000+os.Getpid()%400, time.Now().Nanosecond()/1000)
	manifest := filepath.Join(dir, "pods.yaml")
	must(t, os.WriteFile(manifest, []byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: pf
  namespace: default
spec:
  containers:
  - name: main
    image: local
    command: ["sleep", %q]
`, marker)), 0o644))
	p := &serveProc{kubeconfig: filepath.Join(dir, "kubeconfig"), ended: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--listen", addr, "-f", manifest, "--write-kubeconfig", p.kubeconfig, "--plain-http")
	p.cmd.Env = append(os.Environ(), "HOME="+dir)
	p.cmd.Stderr = io.Discard
	stdout, err := p.cmd.StdoutPipe()
	must(t, err)
	must(t, p.cmd.Start())
	go p.wait()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.ended
		killMarked(t, marker)
	})
	sc := bufio.NewScanner(stdout)
	found := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.addr = <-found:
	case <-p.ended:
		t.Fatalf("porthole serve --listen %s exited: %v", addr, p.cmd.ProcessState)
	case <-time.After(startTimeout):
		t.Fatalf("porthole serve --listen %s printed no banner", addr)
	}
	if err := harness.AwaitProcs(context.Background(), marker, startTimeout); err != nil {
		t.Fatalf("pod pf not running: %v", err)
	}
	return p
}

func (p *serveProc) wait() {
	_ = p.cmd.Wait()
	close(p.ended)
}

// kill ends the server with SIGKILL and waits for it.
func (p *serveProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	select {
	case <-p.ended:
	case <-time.After(stopTimeout):
		t.Fatal("killed porthole serve did not exit")
	}
}

// killMarked kills the processes a killed server left behind.
func killMarked(t *testing.T, marker string) {
	for _, pid := range harness.ProcsWithArg(marker) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := harness.AwaitNoProcs(context.Background(), marker, stopTimeout); err != nil {
		t.Errorf("left behind: %v", err)
	}
}

// TestPortForwardSurvivesReferenceRestart: porthole's client library
// forwarding through the reference node (the kubelet's streaming library
// behind its front) while that node is closed, every connection with it,
// and started again on the same port.
func TestPortForwardSurvivesReferenceRestart(t *testing.T) {
	echoPort := startPodServer(t, echo)
	for _, w := range []client.Wire{client.WireWebSocket, client.WireSPDY} {
		t.Run(string(w), func(t *testing.T) {
			ref, err := criref.Start(context.Background(), nil)
			must(t, err)
			defer func() { must(t, ref.Close()) }()
			host := ref.URL()
			p := portholePeer("porthole/criref", "pf", func(*testing.T) string { return host }, w)
			s := p.start(t, []int{echoPort})
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			defer cancel()
			must(t, echoBulk(ctx, s.locals[0], 16*harness.MiB, 1))
			for round := 1; round <= restartRounds; round++ {
				must(t, ref.Close())
				s.stderr.await(t, "lost connection to pod, reconnecting...\n", round, stopTimeout)
				ref, err = criref.Start(context.Background(), &criref.Options{Addr: strings.TrimPrefix(host, "http://")})
				must(t, err)
				s.stderr.await(t, "reconnected\n", round, stopTimeout)
				if err := echoBulk(ctx, s.locals[0], 16*harness.MiB, uint64(round+1)); err != nil {
					t.Fatalf("after restart %d: %v; stderr: %s", round, err, s.stderr.tail())
				}
			}
			s.stop(t)
		})
	}
}
