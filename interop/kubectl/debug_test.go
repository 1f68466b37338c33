package kubectl

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// testDebug: `kubectl debug -it` adds an ephemeral container to a running
// pod (a strategic merge patch of its ephemeralcontainers subresource),
// waits through a watch for it to run, and attaches to it on a terminal:
// the shell sees kubectl's terminal size and the typed line, and kubectl
// ends with its "Session ended" note once the shell exits. The pod then
// reports the container terminated with the shell's code, never
// restarted. The pod is the case's own (kubectl run): the shared pods
// must keep one container, or kubectl's exec names the one it defaults to.
// Its restartPolicy is Always: kubectl before 1.34 prints its Session
// ended note only for such pods.
func (c *client) testDebug(t *testing.T) {
	pod := fmt.Sprintf("debug-%d-%s", c.k.Minor, c.w.Name)
	if r := c.run(t, nil, nil, nil, "run", pod, "--image=busybox", "--restart=Always", "--", "sleep", "infinity"); r.code != 0 {
		t.Fatalf("kubectl run: exit %d, %s", r.code, r.stderr)
	}
	defer func() {
		if r := c.run(t, nil, nil, nil, "delete", "pod", pod, "--grace-period=0", "--force", "--wait=true"); r.code != 0 {
			t.Errorf("kubectl delete pod: exit %d, %s", r.code, r.stderr)
		}
	}()
	if r := c.run(t, nil, nil, nil, "wait", "--for=condition=Ready", "pod/"+pod, "--timeout=60s"); r.code != 0 {
		t.Fatalf("kubectl wait: exit %d, %s", r.code, r.stderr)
	}
	mark := env.Server.Proxy.Mark()
	// The shell waits for the line, so nothing it prints comes before
	// kubectl has attached; the line typed ahead waits in the terminal.
	s := c.startPTY(t, 29, 97, "debug", "-it", pod, "--image=busybox", "-c", "debugger",
		"--", "sh", "-c", `while read x; do stty size; [ -n "$x" ] && break; done; echo "got-$x"; exit 3`)
	// The client sends the terminal's size grown by one, then the size
	// (kubectl's redraw trick), on the resize channel, which races the
	// typed lines on stdin: each empty line asks the size again, until it
	// is the terminal's; the line typed then ends the shell.
	got := s.AwaitSize(t, "\n", "29 97")
	if got != "29 97" {
		t.Errorf("stty size in the debug container: got %q, want %q", got, "29 97")
	}
	if _, err := io.WriteString(s.Ptmx, "hello\n"); err != nil {
		t.Fatal(err)
	}
	code, rest := s.Wait(t)
	if code != 0 || !slices.Contains(rest, "got-hello") ||
		!slices.ContainsFunc(rest, func(l string) bool { return strings.HasPrefix(l, "Session ended") }) {
		t.Errorf("kubectl debug: exit %d, output %q; want 0, got-hello and kubectl's Session ended", code, rest)
	}
	c.checkWire(t, mark)

	var out bytes.Buffer
	jp := `{range .status.ephemeralContainerStatuses[?(@.name=="debugger")]}{.state.terminated.exitCode} {.restartCount}{end}`
	if r := c.run(t, nil, &out, nil, "get", "pod", pod, "-o", "jsonpath="+jp); r.code != 0 || out.String() != "3 0" {
		t.Errorf("the ephemeral container's status: exit %d, %q (%s); want \"3 0\" (exit code 3, no restart)", r.code, out.String(), r.stderr)
	}
}
