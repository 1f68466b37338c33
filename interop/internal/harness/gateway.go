package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"time"
)

// gatewayBanner is the line `porthole gateway` prints on stdout once it
// listens, with the URL it serves.
var gatewayBanner = regexp.MustCompile(`^gateway listening on (https?://[0-9.:\[\]]+)`)

// Gateway is a running `porthole gateway`, in a process group of its own.
type Gateway struct {
	// URL is the one its banner names.
	URL string

	cmd     *exec.Cmd
	group   *ProcGroup
	logPath string
	exited  chan struct{}
	err     error // the exit, once exited is closed
}

// GatewayOptions are how StartGateway runs it.
type GatewayOptions struct {
	// Log is the file its stderr goes to (required).
	Log string
	// Env is its environment; nil means this process's.
	Env []string
}

// StartGateway runs `bin gateway --listen 127.0.0.1:0 args...` and waits
// up to a minute for its banner.
func StartGateway(bin string, o GatewayOptions, args ...string) (*Gateway, error) {
	logf, err := os.Create(o.Log)
	if err != nil {
		return nil, fmt.Errorf("gateway log: %w", err)
	}
	defer logf.Close()
	g := &Gateway{logPath: o.Log, exited: make(chan struct{})}
	g.cmd = exec.Command(bin, append([]string{"gateway", "--listen", "127.0.0.1:0"}, args...)...)
	g.cmd.Env = o.Env
	g.cmd.Stderr = logf
	g.cmd.SysProcAttr = OwnGroup()
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := startHeld(g.cmd, g.exited); err != nil {
		return nil, fmt.Errorf("start gateway: %w", err)
	}
	g.group = NewProcGroup(g.cmd)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := gatewayBanner.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		g.err = g.group.Wait()
		close(g.exited)
	}()
	select {
	case g.URL = <-urls:
		return g, nil
	case <-g.exited:
		return nil, fmt.Errorf("gateway exited at start: %v; log:\n%s", g.err, g.LogTail(4096))
	case <-time.After(time.Minute):
		g.Kill()
		return nil, fmt.Errorf("gateway: no banner within a minute; log:\n%s", g.LogTail(4096))
	}
}

// Signal sends sig to the gateway.
func (g *Gateway) Signal(sig os.Signal) error { return g.cmd.Process.Signal(sig) }

// Exited is closed once the gateway has exited; ExitErr is then its exit.
func (g *Gateway) Exited() <-chan struct{} { return g.exited }

// ExitErr is the gateway's exit (nil for status 0), once Exited is closed.
func (g *Gateway) ExitErr() error {
	<-g.exited
	return g.err
}

// Kill ends the gateway's whole process group and waits for its exit.
func (g *Gateway) Kill() {
	g.group.Signal(syscall.SIGKILL)
	<-g.exited
}

// Stop sends SIGTERM and requires a clean exit within 30 s, killing the
// gateway after that.
func (g *Gateway) Stop() error {
	if g == nil {
		return nil
	}
	_ = g.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
		if g.err != nil {
			return fmt.Errorf("gateway exit: %w\n%s", g.err, g.LogTail(2048))
		}
		return nil
	case <-time.After(30 * time.Second):
		g.Kill()
		return errors.New("gateway did not stop within 30s of SIGTERM\n" + g.LogTail(2048))
	}
}

// LogTail is the last n bytes of the gateway's log.
func (g *Gateway) LogTail(n int) string {
	b, _ := os.ReadFile(g.logPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
