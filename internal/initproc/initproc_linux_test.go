package initproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// programEnv makes the test binary play the program an init runs: its
// value is what the program does (see program). With Env=1 as well, the
// test binary plays the init first, and its child (without Env) the
// program.
const programEnv = "INITPROC_TEST_PROGRAM"

func TestMain(m *testing.M) {
	if what := os.Getenv(programEnv); what != "" {
		if Wanted() {
			code, err := Run("/proc/self/exe", os.Args, os.Environ())
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(100)
			}
			os.Exit(code)
		}
		os.Exit(program(what))
	}
	os.Exit(m.Run())
}

// program does what, as an init's child, and returns its exit code:
//
//	exit:N     exits N
//	kill       is killed by SIGKILL
//	signal:S:N prints "ready", then exits N when signal S arrives
//	group      exits 0 when it leads a process group of its own
//	terminal   checks that its group is its terminal's foreground group,
//	           prints "ready", and exits 40 plus the number of SIGINTs it
//	           got in the half second from the first
//	orphan     leaves a process that outlives its parent, and exits 0
//	           once that process has been reaped (by the init: see orphan)
func program(what string) int {
	verb, arg, _ := strings.Cut(what, ":")
	switch verb {
	case "exit":
		n, _ := strconv.Atoi(arg)
		return n
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	case "signal":
		s, n, _ := strings.Cut(arg, ":")
		sn, _ := strconv.Atoi(s)
		code, _ := strconv.Atoi(n)
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.Signal(sn))
		fmt.Println("ready")
		select {
		case <-ch:
			return code
		case <-time.After(time.Minute):
			return 99
		}
	case "group":
		if pg := syscall.Getpgrp(); pg != os.Getpid() {
			fmt.Fprintf(os.Stderr, "group %d, pid %d\n", pg, os.Getpid())
			return 5
		}
		return 0
	case "orphan":
		return orphan()
	case "terminal":
		return terminal()
	}
	fmt.Fprintf(os.Stderr, "unknown program %q\n", what)
	return 98
}

// orphan starts a shell that leaves a sleep behind and exits. The sleep,
// orphaned, goes to the init (checked by its parent pid, where the init is
// not PID 1 of its namespace: there, nothing else can take it). Once it
// ends, only the init can reap it: orphan returns 0 when it has been,
// 3 when it is still there 10 s later.
func orphan() int {
	if os.Getpid() == 1 {
		fmt.Fprintln(os.Stderr, "the program is PID 1: no init runs above it")
		return 7
	}
	out, err := exec.Command("sh", "-c", "sleep 2 </dev/null >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sh:", err)
		return 2
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "sh printed %q\n", out)
		return 2
	}
	// A pidfd names the process whatever /proc shows: its fdinfo's Pid is
	// -1 once the process has been reaped, not while it is a zombie.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pidfd_open:", err)
		return 2
	}
	if os.Getppid() != 1 {
		if ppid, err := parentOf(pid); err != nil || ppid != os.Getppid() {
			fmt.Fprintf(os.Stderr, "orphan's parent %d (%v), want the init, %d\n", ppid, err, os.Getppid())
			return 4
		}
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
		if err != nil {
			fmt.Fprintln(os.Stderr, "fdinfo:", err)
			return 2
		}
		if strings.Contains(string(info), "\nPid:\t-1\n") {
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "the orphan was not reaped in 10 s")
	return 3
}

func terminal() int {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT)
	if fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP); err != nil || fg != syscall.Getpgrp() {
		fmt.Fprintf(os.Stderr, "terminal's foreground group %d (%v), ours %d\n", fg, err, syscall.Getpgrp())
		return 6
	}
	fmt.Println("ready")
	select {
	case <-ch:
	case <-time.After(time.Minute):
		return 99
	}
	n := 1
	for after := time.After(500 * time.Millisecond); ; {
		select {
		case <-ch:
			n++
		case <-after:
			return 40 + n
		}
	}
}

// parentOf reads pid's parent from /proc (this namespace's).
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(string(b), ") ") // the name may hold spaces
	f := strings.Fields(rest)
	if !ok || len(f) < 2 {
		return 0, fmt.Errorf("stat %q", b)
	}
	return strconv.Atoi(f[1])
}

// initCmd runs the test binary as an init (Env=1, not PID 1) of program.
func initCmd(ctx context.Context, what string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), programEnv+"="+what, Env+"=1")
	return cmd
}

// TestExitCode: the init exits as its child did, 128+N for a signal.
func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		program string
		want    int
	}{{"exit:0", 0}, {"exit:7", 7}, {"kill", 128 + 9}, {"group", 0}} {
		t.Run(tc.program, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := initCmd(ctx, tc.program).CombinedOutput()
			var ee *exec.ExitError
			code := 0
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.want {
				t.Errorf("exit %d, want %d; output %q", code, tc.want, out)
			}
		})
	}
}

// TestSignalsForwarded: a signal to the init reaches its child, which
// then exits with its own code.
func TestSignalsForwarded(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGWINCH} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			code, stderr, err := runSignalled(t, initCmd(ctx, fmt.Sprintf("signal:%d:42", sig)), sig)
			if err != nil {
				t.Fatal(err)
			}
			if code != 42 {
				t.Errorf("exit %d, want 42 (the child's on %v); stderr %q", code, sig, stderr)
			}
		})
	}
}

// runSignalled starts cmd, an init of a "signal" program, waits for the
// program's "ready", signals the init with sig and returns the init's exit
// code and stderr. err: cmd did not start.
func runSignalled(t *testing.T, cmd *exec.Cmd, sig syscall.Signal) (code int, stderr string, err error) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q; stderr %q", line, errOut.String())
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	return cmd.ProcessState.ExitCode(), errOut.String(), nil
}

// TestTerminal: on its controlling terminal, the init gives the terminal
// to its child, so the terminal's Ctrl-C reaches the child once (not
// once directly and once forwarded).
func TestTerminal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := initCmd(ctx, "terminal")
	tty, err := pty.Start(cmd) // a new session, the terminal its controlling one
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	r := bufio.NewReader(tty)
	line, _ := r.ReadString('\n')
	if line != "ready\r\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q", line)
	}
	tty.Write([]byte{3}) // ^C
	go io.Copy(io.Discard, r)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 41 {
		t.Errorf("exit %d, want 41 (one SIGINT)", code)
	}
}

// TestOrphansReaped: a process orphaned below the init goes to it, and is
// reaped when it ends.
func TestOrphansReaped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := initCmd(ctx, "orphan").CombinedOutput()
	if err != nil {
		t.Errorf("%v; output %q", err, out)
	}
}

// TestPID1: as PID 1 of a new PID namespace, with Env unset, the test
// binary runs as init of its program: an orphan is reaped, and SIGTERM,
// which PID 1 would ignore without a handler, reaches the child.
func TestPID1(t *testing.T) {
	pid1 := func(ctx context.Context, what string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(childEnv(os.Environ()), programEnv+"="+what)
		cmd.SysProcAttr = newPIDNamespace()
		return cmd
	}
	t.Run("orphan", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := pid1(ctx, "orphan")
		out, err := cmd.CombinedOutput()
		if cmd.Process == nil {
			t.Skipf("no new PID namespace here: %v", err)
		}
		if err != nil {
			t.Errorf("%v; output %q", err, out)
		}
	})
	t.Run("signal", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code, stderr, err := runSignalled(t, pid1(ctx, fmt.Sprintf("signal:%d:42", syscall.SIGTERM)), syscall.SIGTERM)
		if err != nil {
			t.Skipf("no new PID namespace here: %v", err)
		}
		if code != 42 {
			t.Errorf("exit %d, want 42; stderr %q", code, stderr)
		}
	})
}

// newPIDNamespace starts a process as PID 1 of a new PID namespace (in a
// new user namespace too, for a user other than root).
func newPIDNamespace() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if os.Geteuid() != 0 {
		a.Cloneflags |= syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	return a
}
