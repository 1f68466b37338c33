package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ProcsWithArg returns the pids of live processes (zombies excluded) whose
// command line contains marker, ignoring kubectl processes (whose argv
// carries the remote command too). It reads /proc directly so the check
// works without pgrep.
func ProcsWithArg(marker string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(marker)) {
			continue
		}
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if bytes.HasPrefix([]byte(filepath.Base(string(argv0))), []byte("kubectl")) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join(d, "stat")); err == nil && zombie(stat) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// zombie reports state Z in /proc/pid/stat ("pid (comm) S ...").
func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// AwaitNoProcs waits until no process carries marker, or fails after
// timeout listing the survivors. A separate process gives no event to wait
// on, so this polls; the timeout only bounds a failure.
func AwaitNoProcs(ctx context.Context, marker string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		pids := ProcsWithArg(marker)
		if len(pids) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			descs := make([]string, len(pids))
			for i, pid := range pids {
				descs[i] = describeProc(pid)
			}
			return fmt.Errorf("processes with %q still running after %v: pids %v: %s", marker, timeout, pids, strings.Join(descs, "; "))
		case <-tick.C:
		}
	}
}

// AwaitProcs waits until at least one process carries marker.
func AwaitProcs(ctx context.Context, marker string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for len(ProcsWithArg(marker)) == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no process with %q appeared within %v", marker, timeout)
		case <-tick.C:
		}
	}
	return nil
}

// describeProc says what a leftover process is and where it waits, for
// the failure that lists it: its command line, state, parent, kernel wait
// channel and standard descriptors.
func describeProc(pid int) string {
	d := filepath.Join("/proc", strconv.Itoa(pid))
	cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
	state, ppid := "?", "?"
	if stat, err := os.ReadFile(filepath.Join(d, "stat")); err == nil {
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
			if f := strings.Fields(string(stat[i+1:])); len(f) > 1 {
				state, ppid = f[0], f[1]
			}
		}
	}
	wchan, _ := os.ReadFile(filepath.Join(d, "wchan"))
	var fds []string
	for fd := range 3 {
		target, err := os.Readlink(filepath.Join(d, "fd", strconv.Itoa(fd)))
		if err != nil {
			target = "-"
		}
		fds = append(fds, target)
	}
	return fmt.Sprintf("pid %d %q state %s ppid %s wchan %s stdio %v", pid,
		strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "), state, ppid, wchan, fds)
}
