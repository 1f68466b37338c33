package kubectl

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// testDebug: `kubectl debug -it` adds an ephemeral container to a running
// pod (a strategic merge patch of its ephemeralcontainers subresource),
// waits through a watch for it to run, and attaches to it on a terminal:
// the shell sees kubectl's terminal size and the typed line, and kubectl
// ends with its "Session ended" note once the shell exits. The pod then
// reports the container terminated with the shell's code, never
// restarted.
func (c *client) testDebug(t *testing.T) {
	name := fmt.Sprintf("debug-%d-%s", c.k.Minor, c.w.Name)
	mark := env.Server.Proxy.Mark()
	// The shell waits for the line, so nothing it prints comes before
	// kubectl has attached; the line typed ahead waits in the terminal.
	s := c.startPTY(t, 29, 97, "debug", "-it", harness.PodExec, "--image=busybox", "-c", name,
		"--", "sh", "-c", `read x; stty size; echo "got-$x"; exit 3`)
	if _, err := io.WriteString(s.Ptmx, "hello\n"); err != nil {
		t.Fatal(err)
	}
	if got := s.NextSize(t); got != "29 97" {
		t.Errorf("stty size in the debug container: got %q, want %q", got, "29 97")
	}
	code, rest := s.Wait(t)
	if code != 0 || !slices.Contains(rest, "got-hello") ||
		!slices.ContainsFunc(rest, func(l string) bool { return strings.HasPrefix(l, "Session ended") }) {
		t.Errorf("kubectl debug: exit %d, output %q; want 0, got-hello and kubectl's Session ended", code, rest)
	}
	c.checkWire(t, mark)

	var out bytes.Buffer
	jp := fmt.Sprintf(`{range .status.ephemeralContainerStatuses[?(@.name=="%s")]}{.state.terminated.exitCode} {.restartCount}{end}`, name)
	if r := c.run(t, nil, &out, nil, "get", "pod", harness.PodExec, "-o", "jsonpath="+jp); r.code != 0 || out.String() != "3 0" {
		t.Errorf("the ephemeral container's status: exit %d, %q (%s); want \"3 0\" (exit code 3, no restart)", r.code, out.String(), r.stderr)
	}
}
