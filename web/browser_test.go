//go:build linux

package web

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireEnv, set to "require" (as .ci/run does), turns a missing Node,
// Chromium or npm install into a failure instead of a skip.
const requireEnv = "PORTHOLE_BROWSER_TESTS"

// TestBrowser builds porthole and runs test/browser.mjs: Debian's Chromium,
// driven by playwright-core, against a real `porthole serve` (see that file
// for the checks). Screenshots land in web/test-artifacts/.
func TestBrowser(t *testing.T) { browserScript(t, "test/browser.mjs") }

// TestBrowserResume runs test/resume.mjs: a session through serve with
// --session-resume-grace and a relay that cuts its connection resumes in
// the page, with nothing lost or repeated either way.
func TestBrowserResume(t *testing.T) { browserScript(t, "test/resume.mjs") }

// TestBrowserEveryday runs test/everyday.mjs: small screens and the
// sidebar, the shell fallback, quoted commands and directory transfers.
func TestBrowserEveryday(t *testing.T) { browserScript(t, "test/everyday.mjs") }

// browserScript builds porthole and runs script (one of test/*.mjs) with
// node against it and Debian's Chromium.
func browserScript(t *testing.T, script string) {
	t.Helper()
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

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, "--porthole", bin, "--chromium", chromium, "--artifacts", "test-artifacts")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Node, Chromium and porthole share a process group, so a timeout or a
	// crash of the script leaves none of them behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = runGroup(cmd)
	t.Logf("node %s:\n%s", script, out.String())
	if err != nil {
		t.Fatalf("browser test: %v (ctx: %v)", err, ctx.Err())
	}
}

// TestJSUnit runs the page's module tests (test/unit.test.mjs) in Node:
// argument splitting, Status decoding, the line discipline, the bearer
// subprotocol and the tar codec against GNU tar.
func TestJSUnit(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "test/unit.test.mjs")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}

// skipOrFail skips the test for want of what, or fails it when
// PORTHOLE_BROWSER_TESTS=require.
func skipOrFail(t *testing.T, what string, err error) {
	t.Helper()
	msg := what + " not available (" + err.Error() + "); install Node.js, `apt-get install chromium` and run `npm ci` in web/, or run .ci/run"
	if os.Getenv(requireEnv) == "require" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// browserTools finds node and Chromium and checks that playwright-core is
// installed (`npm ci` in web/), or skips saying what is missing.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	missing := func(what string, err error) { t.Helper(); skipOrFail(t, what, err) }
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node", err)
	}
	chromium = os.Getenv("PORTHOLE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if fi, err := os.Stat(chromium); err != nil {
		missing("chromium", err)
	} else if fi.IsDir() {
		missing("chromium", errors.New(chromium+" is a directory"))
	}
	if _, err := os.Stat("node_modules/playwright-core/package.json"); err != nil {
		missing("playwright-core", err)
	}
	return node, chromium
}

// runGroup runs cmd, which leads a process group of its own, and kills
// the group's strays when its leader exits, before the reap: after it the
// group's id may be free, and given to a stranger's group (pid_max is
// 32768 here), which a kill would reach.
func runGroup(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	var info unix.Siginfo
	for {
		if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
			break
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return cmd.Wait()
}
