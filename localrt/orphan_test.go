package localrt

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// orphanHelperEnv makes the test binary play a server that runs processes
// and never stops them: the value is the directory they write their pids to.
const orphanHelperEnv = "LOCALRT_TEST_ORPHAN_HELPER"

// orphanViaHelperEnv has that server start its processes through the
// spawn helper.
const orphanViaHelperEnv = "LOCALRT_TEST_ORPHAN_VIA_HELPER"

// pidScript writes the shell's pid to dir/name, then becomes a silent,
// stdin-ignoring sleep (same pid).
// shell is "$$" for an exec and "$$$$" for a container command, whose
// $(VAR) expansion turns "$$" into "$".
func pidScript(dir, name, shell string) []string {
	return []string{"sh", "-c", "echo " + shell + " > " + filepath.Join(dir, name) + ".tmp && mv " +
		filepath.Join(dir, name) + ".tmp " + filepath.Join(dir, name) + " && exec sleep 100000"}
}

// runOrphanHelper starts a pipes and a tty container and execs a pipes and
// a tty process into the first, then blocks until it is killed.
func runOrphanHelper(dir string) {
	pods := []*kube.Pod{
		testPod("pipes", kube.Container{Command: pidScript(dir, "main-pipes", "$$$$"), Stdin: true}, ""),
		testPod("tty", kube.Container{Command: pidScript(dir, "main-tty", "$$$$"), Stdin: true, TTY: true}, ""),
	}
	r, err := New(pods, nil)
	if err == nil {
		if os.Getenv(orphanViaHelperEnv) != "" {
			r.helperAt = 0
		}
		err = r.Start(context.Background())
	}
	if err != nil {
		os.Stderr.WriteString("orphan helper: " + err.Error() + "\n")
		os.Exit(2)
	}
	for _, tty := range []bool{false, true} {
		name := "exec-pipes"
		if tty {
			name = "exec-tty"
		}
		stdin, _, _ := os.Pipe() // never written, never closed
		go r.Exec(context.Background(), ref("pipes", "main"), pidScript(dir, name, "$$"),
			node.Streams{Stdin: stdin, Stdout: io.Discard, TTY: tty})
	}
	select {}
}

// TestProcessesDieWithTheirServer: when the process running the Runtime is
// killed (SIGKILL: no Close), the containers' and exec'd processes die too,
// even when they neither read nor write their stdio; also when they were
// started through the spawn helper (which dies with the server).
func TestProcessesDieWithTheirServer(t *testing.T) {
	t.Run("direct", func(t *testing.T) { testProcessesDie(t, false) })
	t.Run("spawn helper", func(t *testing.T) { testProcessesDie(t, true) })
}

func testProcessesDie(t *testing.T, viaHelper bool) {
	dir := t.TempDir()
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), orphanHelperEnv+"="+dir)
	if viaHelper {
		helper.Env = append(helper.Env, orphanViaHelperEnv+"=1")
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { helper.Process.Kill(); helper.Wait() })
	names := []string{"main-pipes", "main-tty", "exec-pipes", "exec-tty"}
	pids := make([]int, len(names))
	for i, name := range names {
		pids[i] = readPidFile(t, filepath.Join(dir, name))
		pid := pids[i]
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // survivors of a failure
	}
	for i, pid := range pids {
		ppid := parentOf(t, pid)
		if viaHelper == (ppid == helper.Process.Pid) {
			t.Fatalf("%s: parent %d, server %d: the spawn helper is not what started it (via helper: %v)", names[i], ppid, helper.Process.Pid, viaHelper)
		}
	}
	helper.Process.Signal(syscall.SIGKILL)
	helper.Wait()
	for i, pid := range pids {
		t.Logf("%s: pid %d", names[i], pid)
		waitGone(t, pid)
	}
}

// readPidFile waits for a pid file to appear (it is renamed into place).
func readPidFile(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(failsafe)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never written", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parentOf reads pid's parent from /proc/PID/stat (the field after the
// state, which follows the command name's closing parenthesis).
func parentOf(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("stat of %d: %q", pid, b)
	}
	return ppid
}

// TestReapedGroupNotSignalled: once a process's leader is reaped, its
// group's id is free, and this machine hands ids out again soon (pid_max
// 32768): a stop or a kill of the group then must send nothing, or it
// reaches whoever holds the id now. (Two CI runs lost a server and a
// compiler to such a SIGTERM.) The reuse is staged: the process's group id
// is pointed at a live decoy group.
func TestReapedGroupNotSignalled(t *testing.T) {
	decoy := exec.Command("sleep", "100")
	decoy.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := decoy.Start(); err != nil {
		t.Fatal(err)
	}
	decoyDone := make(chan struct{})
	go func() { decoy.Wait(); close(decoyDone) }()
	t.Cleanup(func() { syscall.Kill(-decoy.Process.Pid, syscall.SIGKILL); <-decoyDone })
	for _, killOnExit := range []bool{false, true} {
		cmd := exec.Command("true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := newProcess(cmd, &spawned{pid: cmd.Process.Pid, pidfd: -1}, killOnExit)
		<-p.done
		p.pgid = decoy.Process.Pid // the id, reused by another group
		p.stop(syscall.SIGTERM, time.Second, nil)
		p.signalGroup(syscall.SIGKILL)
	}
	select {
	case <-decoyDone:
		t.Fatalf("the decoy group was signalled: %v", decoy.ProcessState)
	case <-time.After(100 * time.Millisecond): // a signal sent is delivered long before
	}
}
