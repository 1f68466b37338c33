package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeAsPID1: `porthole serve` as the first process of a PID namespace
// (a container without --init) reaps what a session leaves behind. A
// session's background process outlives its shell, goes to PID 1, and is
// gone from PID 1's children once it ends (without an init, it stays
// there as a zombie for good). SIGTERM still shuts serve down gracefully,
// exit 0.
func TestServeAsPID1(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := build(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if os.Geteuid() != 0 {
		sys.Cloneflags |= syscall.CLONE_NEWUSER
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	if err := (&exec.Cmd{Path: "/bin/true", SysProcAttr: sys}).Run(); err != nil {
		t.Skipf("no new PID namespace here: %v", err)
	}
	s := startServe(ctx, t, bin, dir, sys)
	defer s.cmd.Process.Kill()
	tokens, err := os.ReadFile(filepath.Join(s.certDir, "tokens.csv"))
	if err != nil {
		t.Fatal(err)
	}
	token, _, _ := strings.Cut(string(tokens), ",")
	cmd := exec.CommandContext(ctx, bin, "exec", "demo", "-s", s.server, "--token", token,
		"--certificate-authority", filepath.Join(s.certDir, "ca.crt"), "--",
		"sh", "-c", "sleep 3 </dev/null >/dev/null 2>&1 & echo $!")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exec: %v; stdout %q", err, out)
	}
	nspid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("exec printed %q", out)
	}
	pid1 := s.cmd.Process.Pid
	orphan, err := childWithNSPid(pid1, nspid)
	if err != nil || orphan == 0 {
		t.Fatalf("the session's background process (pid %d in the namespace) is not PID 1's child: %v", nspid, err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		kids, err := children(pid1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(kids, orphan) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PID 1 has not reaped the orphan (pid %d) 15 s after it was started for 3 s; its state %q", orphan, state(orphan))
		}
	}
	s.stop(t)
}

// children lists pid's children (host pids).
func children(pid int) ([]int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("children of %d: %q", pid, b)
		}
		pids = append(pids, n)
	}
	return pids, nil
}

// childWithNSPid finds the child of pid whose pid in its own namespace is
// nspid, and returns its host pid (0: none).
func childWithNSPid(pid, nspid int) (int, error) {
	kids, err := children(pid)
	if err != nil {
		return 0, err
	}
	for _, k := range kids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", k))
		if err != nil {
			continue // ended meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "NSpid:" && f[len(f)-1] == strconv.Itoa(nspid) {
				return k, nil
			}
		}
	}
	return 0, nil
}

// state is pid's state letter from /proc ("" when it is gone).
func state(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	_, rest, _ := strings.Cut(string(b), ") ")
	state, _, _ := strings.Cut(rest, " ")
	return state
}
