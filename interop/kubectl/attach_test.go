package kubectl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// attachSession is `kubectl attach -i` with piped stdin and stdout.
type attachSession struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
}

func (c *client) startAttach(t *testing.T) *attachSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	cmd := c.command(ctx, "attach", "-i", harness.PodCat, "-c", harness.ContainerMain)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard // the "If you don't see a command prompt" hint
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kubectl attach: %v", err)
	}
	a := &attachSession{cmd: cmd, stdin: stdin, lines: make(chan string, 64), done: make(chan struct{})}
	go a.readLines(stdout)
	t.Cleanup(func() {
		cancel()
		<-a.done
		_ = cmd.Wait()
	})
	return a
}

func (a *attachSession) readLines(r io.Reader) {
	defer close(a.done)
	defer close(a.lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		a.lines <- sc.Text()
	}
}

// echo writes a unique line and waits until cat in the container sends it
// back through this session.
func (a *attachSession) echo(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(a.stdin, line+"\n"); err != nil {
		t.Fatalf("write to kubectl attach: %v", err)
	}
	for l := range a.lines {
		if l == line {
			return
		}
	}
	t.Fatalf("kubectl attach output ended before %q came back", line)
}

// detach ends the session the way a user does: stdin ends, then kubectl
// goes away.
func (a *attachSession) detach(t *testing.T) {
	t.Helper()
	if err := a.stdin.Close(); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Process.Kill()
	<-a.done
	_ = a.cmd.Wait()
}

// testAttach attaches to the running cat (stdin: true, no tty), sends a
// line and reads it back; then ends stdin, kills kubectl, and attaches again
// to prove the container survived both and still echoes.
func (c *client) testAttach(t *testing.T) {
	nonce := fmt.Sprintf("%s-%s-%d", c.k.Name(), c.w.Name, time.Now().UnixNano())
	mark := env.Server.Proxy.Mark()
	a := c.startAttach(t)
	a.echo(t, "first-"+nonce)
	a.echo(t, "second-"+nonce)
	c.checkWire(t, mark)
	a.detach(t)

	b := c.startAttach(t)
	b.echo(t, "again-"+nonce)
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if !env.Server.Alive() {
		t.Fatal("porthole exited")
	}
}
