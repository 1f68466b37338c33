package harness

import (
	"bufio"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ForwardingLine is the line kubectl, and porthole after it, prints on
// stdout for each forwarded port: its local port, the remote one, and
// "/udp" for a UDP forward.
var ForwardingLine = regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)(/udp)?$`)

// Forward is a running port-forward command (kubectl's or porthole's).
type Forward struct {
	// Addr is the local address of the first port it forwards
	// (127.0.0.1:PORT); Addrs has every port's, in the order printed.
	Addr           string
	Addrs          []string
	Stdout, Stderr *SyncBuffer
	// Done is closed once the command has exited.
	Done <-chan struct{}
}

// StartForward starts cmd, a port-forward with --address 127.0.0.1 whose
// Stdout and Stderr it sets, and waits up to a minute for its first
// "Forwarding from" line. cmd is killed when the test ends, if its own
// context did not end it before.
func StartForward(t testing.TB, cmd *exec.Cmd) *Forward {
	t.Helper()
	return StartForwardPorts(t, cmd, 1)
}

// StartForwardPorts is StartForward for a command that forwards ports
// ports: it waits for as many "Forwarding from" lines.
func StartForwardPorts(t testing.TB, cmd *exec.Cmd, ports int) *Forward {
	t.Helper()
	f := &Forward{Stdout: &SyncBuffer{}, Stderr: &SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = f.Stdout, f.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	f.Done = exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond) // the output reaches the buffer through os/exec's copier: poll it
	defer tick.Stop()
	for {
		gone := false
		select {
		case <-exited:
			gone = true
		case <-deadline.C:
			t.Fatalf("%s forwarded %d of %d ports within a minute: stdout %q, stderr %q",
				cmd, len(f.Addrs), ports, f.Stdout.Tail(), f.Stderr.Tail())
		case <-tick.C:
		}
		f.Addrs = f.Addrs[:0]
		sc := bufio.NewScanner(strings.NewReader(f.Stdout.String()))
		for sc.Scan() {
			if m := ForwardingLine.FindStringSubmatch(sc.Text()); m != nil {
				f.Addrs = append(f.Addrs, "127.0.0.1:"+m[1])
			}
		}
		if len(f.Addrs) >= ports {
			f.Addr = f.Addrs[0]
			return f
		}
		if gone {
			t.Fatalf("%s exited after forwarding %d of %d ports (%v): stdout %q, stderr %q",
				cmd, len(f.Addrs), ports, cmd.ProcessState, f.Stdout.Tail(), f.Stderr.Tail())
		}
	}
}
