//go:build linux

package web

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestBrowserSessions builds porthole and runs test/sessions.mjs: two users
// in Chromium against `porthole serve --session-join`, the second watching
// and joining the first's shell from the live sessions panel.
func TestBrowserSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, chromium := browserTools(t)
	bin := filepath.Join(t.TempDir(), "porthole")
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool: %v", err)
	}
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/porthole")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "test/sessions.mjs", "--porthole", bin, "--chromium", chromium, "--artifacts", "test-artifacts")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	t.Logf("node test/sessions.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("sessions browser test: %v (ctx: %v)", err, ctx.Err())
	}
}
