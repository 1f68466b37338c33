// Package initproc lets porthole be a container's first process (PID 1).
//
// Why: PID 1 inherits every orphan in its PID namespace. A session's
// background process that outlives its shell (`nohup job &`, a daemon)
// is reparented to it, and when it ends only PID 1 can reap it. A Go
// program that waits for its own children only leaves it a zombie for
// good, and the zombie's process group still counts as alive for the
// runtime's group tracking. PID 1 also ignores every signal it has no
// handler for, so the second Ctrl-C or SIGTERM that normally forces a
// stuck shutdown does nothing.
//
// So when porthole finds itself PID 1 (`docker run` without --init, a pod
// without a shared process namespace), Run makes it a small init, as tini
// and `docker --init` are: it runs porthole again as its only child, in a
// process group of its own (the terminal's foreground group, when it has
// one), forwards the signals it gets to that child, reaps every process
// that ends up its child, and exits with the child's exit code. The
// child is the real porthole and owns its processes as ever; the init
// waits for nothing else by pid, so it never takes a status a waiter in
// porthole expects.
package initproc

import (
	"os"
	"strings"
)

// Env chooses: "0" never run as init, "1" always (not as PID 1, the init
// makes itself its descendants' subreaper, for a host whose init reaps
// nothing), unset or anything else: run as init when PID 1. Under a
// shell's job control, the init passes the child's stops on as its own
// (Run).
const Env = "PORTHOLE_INIT"

// Wanted reports whether this process should run as init, per Env and its
// pid.
func Wanted() bool {
	switch os.Getenv(Env) {
	case "0":
		return false
	case "1":
		return supported
	}
	return supported && os.Getpid() == 1
}

// childEnv is env without Env, so that the child runs as itself.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, Env+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// exitCode is a shell's code for a child that exited with code, or was
// killed by signal sig (128+sig, as tini and sh report it).
func exitCode(exited bool, code, sig int) int {
	if exited {
		return code
	}
	return 128 + sig
}
