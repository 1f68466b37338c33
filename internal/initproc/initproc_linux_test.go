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
	"sync"
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
//	terminal   prints "ready" and whether its group is its terminal's
//	           foreground group, and exits 40 plus the number of SIGINTs
//	           it got in the half second from the first; on each SIGCONT
//	           it says whether it holds the terminal again
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
	out, err := exec.Command("sh", "-c", "sleep 3 </dev/null >/dev/null 2>&1 & echo $!").Output()
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
	ints := make(chan os.Signal, 4)
	signal.Notify(ints, syscall.SIGINT)
	conts := make(chan os.Signal, 4)
	signal.Notify(conts, syscall.SIGCONT)
	if inForeground() {
		fmt.Println("ready (foreground)")
	} else {
		fmt.Println("ready (background)")
	}
	for waiting := true; waiting; {
		select {
		case <-ints:
			waiting = false
		case <-conts:
			if inForeground() {
				fmt.Println("foreground again")
			} else {
				fmt.Println("continued without the terminal")
			}
		case <-time.After(time.Minute):
			return 99
		}
	}
	n := 1
	for after := time.After(500 * time.Millisecond); ; {
		select {
		case <-ints:
			n++
		case <-after:
			return 40 + n
		}
	}
}

// inForeground reports whether this process's group is its terminal's
// foreground group.
func inForeground() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == syscall.Getpgrp()
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
	if line != "ready (foreground)\r\n" {
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

// TestJobControl: the init started by an interactive shell (Env=1, not
// PID 1) is as transparent to job control as the program alone. Ctrl-Z
// stops the job: the shell says so and takes commands. fg continues it
// with the terminal given to the program, so ^C reaches it, once. The
// same for a job started in the background and brought to the
// foreground; there the terminal goes to the init, which forwards ^Z.
func TestJobControl(t *testing.T) {
	for _, tc := range []struct {
		name, start, ready string
	}{
		{"foreground", "", "ready (foreground)"},
		{"background", " &", "ready (background)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tty, sh, bash := startShell(t)
			fmt.Fprintf(tty, "%s=terminal %s=1 %s -test.run='^$'%s\n", programEnv, Env, os.Args[0], tc.start)
			sh.await(t, tc.ready)
			if tc.start != "" {
				fmt.Fprintf(tty, "fg\n")
				awaitTerminalLeaves(t, tty, bash)
			}
			tty.Write([]byte{0x1a}) // ^Z
			sh.await(t, "Stopped")
			fmt.Fprintf(tty, "echo shell-$((6*7))\n")
			sh.await(t, "shell-42")
			fmt.Fprintf(tty, "fg\n")
			sh.await(t, "foreground again")
			tty.Write([]byte{3}) // ^C
			fmt.Fprintf(tty, "echo code-$?\n")
			sh.await(t, "code-41")
		})
	}
}

// awaitTerminalLeaves waits up to 20 s for the shell (bash, the leader of
// its group) to give the terminal to a job.
func awaitTerminalLeaves(t *testing.T, tty *os.File, bash int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fg, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
		if err != nil {
			t.Fatal(err)
		}
		if fg != bash {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell kept the terminal 20 s after fg")
		}
	}
}

// startShell runs an interactive bash on a new terminal, which it closes
// at the test's end, and returns the terminal, its screen and bash's pid.
func startShell(t *testing.T) (*os.File, *screen, int) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, bash, "--norc", "--noprofile", "-i")
	cmd.Env = append(childEnv(os.Environ()), "PS1=$ ", "TERM=dumb", "LC_ALL=C") // bash says "Stopped" in English
	tty, err := pty.Start(cmd)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tty.Close()
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
	})
	return tty, newScreen(tty), cmd.Process.Pid
}

// screen collects what a terminal shows.
type screen struct {
	mu   sync.Mutex
	buf  []byte
	seen int // where the next await looks from
}

func newScreen(r io.Reader) *screen {
	s := &screen{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			s.mu.Lock()
			s.buf = append(s.buf, b[:n]...)
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

// await waits up to 20 s for text to show after what the last await saw.
func (s *screen) await(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		i := strings.Index(string(s.buf[s.seen:]), text)
		if i >= 0 {
			s.seen += i + len(text)
		}
		shown := string(s.buf)
		s.mu.Unlock()
		if i >= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal did not show %q in 20 s; it shows %q", text, shown)
		}
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
