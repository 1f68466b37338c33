package localrt

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// killSession SIGKILLs every process of session sid. A terminal's process
// runs in a session of its own, and a shell with job control moves its
// jobs into process groups of their own, where a kill of the leader's
// group does not reach them; the hang-up that would (the kernel's SIGHUP
// to the terminal's foreground group) is lost on a process that ignores
// SIGHUP, as everything started under nohup does. It reads /proc; where
// there is none it does nothing.
func killSession(sid int) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == sid {
			continue
		}
		if s, ok := sessionOf(pid); ok && s == sid {
			syscall.Kill(pid, syscall.SIGKILL) // ESRCH: it is gone already
		}
	}
}

// sessionOf reads the session id of pid from /proc/PID/stat: the fields
// after the command name, whose parenthesis may hide spaces, are state,
// ppid, pgrp, session.
func sessionOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 4 {
		return 0, false
	}
	sid, err := strconv.Atoi(string(f[3]))
	return sid, err == nil
}
