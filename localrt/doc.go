// Package localrt is porthole's embedded default node.Runtime: the
// containers of its pods are local processes started from the manifest's
// command and args.
//
// localrt is NOT an isolation boundary. A "container" is an ordinary child
// process of the porthole binary, with the same user, filesystem, network
// and privileges; the image is ignored (it is only echoed in the status).
// Use it for demos, tests and single-user development, never to confine
// untrusted code.
//
// What a container is here:
//
//   - Its main process runs command+args (no command: "sh" when stdin is set,
//     else "sleep infinity"), in workingDir (default: the pod's own directory
//     under Options.StateDir), with a minimal host environment (PATH, HOME,
//     LANG, TERM=xterm for a tty) plus HOSTNAME=<pod name> and the
//     container's env. $(VAR) references are not expanded.
//   - stdin: true gives the process a pipe the runtime keeps open; tty: true
//     runs it on a pseudo-terminal (80x24 until an attacher resizes it).
//   - Every process (main or exec) leads its own process group (its own
//     session for a tty), so signals reach its children too. When a main
//     process ends, its group and the groups of exec sessions left behind
//     are killed, as a container's processes die with it.
//   - The main process restarts per restartPolicy with a backoff (1s doubling
//     to 30s, reset after 60s of running), counted in restartCount.
//   - The pod's IP is 127.0.0.1: port-forward dials the loopback.
//
// Output and backpressure: attach writes a main process's output to every
// current attacher synchronously, so a stalled attacher stalls the
// container's output (and its other attachers) rather than buffering it.
// With no attacher the output is read and discarded. Exec copies each
// output pipe straight into the caller's writer (io.Copy with the
// *os.File as source, so writers implementing io.ReaderFrom can wait for
// readability without holding a buffer).
//
// After a process exits, Exec keeps copying its output until the pipes
// reach EOF. A background child that keeps a pipe open would hold the
// session forever, so draining stops at the first check, every
// drainGrace (250ms), that finds the pipe empty; later output of such a
// child is lost, as with a detached process in a container.
package localrt
