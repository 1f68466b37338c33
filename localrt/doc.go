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
//     container's environment, made at each start as the kubelet makes it
//     (envsource.go): envFrom's ConfigMaps (Options.ConfigMaps), then env,
//     its valueFrom read from the pod (the downward API) or a ConfigMap.
//     $(VAR) references in env values, command and args are expanded as
//     the kubelet does. While a ConfigMap or key is missing the container
//     waits in CreateContainerConfigError, retrying.
//   - stdin: true gives the process a pipe the runtime keeps open; tty: true
//     runs it on a pseudo-terminal (80x24 until an attacher resizes it).
//   - A process is a child of the server, or, once the server holds many
//     descriptors (fork's cost grows with them), of its spawn helper: a
//     second process of the same executable that starts processes from a
//     small descriptor table and reports their exits (spawnhelper_linux.go).
//     Either way it dies with the server, even one killed outright.
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
// With no attacher the output is read and discarded; the last logTail bytes
// of each run are kept for Runtime.Logs.
// Exec hands each output pipe (or the pty master), as the *os.File itself,
// to the caller's writer's ReadFrom when it has one (io.Copy would wrap
// the file), so a transport can wait for readability without holding a
// buffer per idle session. Writers must return read errors of the source
// unchanged or wrapped: a pty master ends with EIO, not EOF.
//
// After a process exits, Exec keeps copying its output until the pipes
// reach EOF, so no byte is lost before the exit status. A background child
// that inherited a pipe would hold the session forever, so every drain
// grace (250ms) the pipes are checked and, once empty (everything the
// exited process wrote has been read), the copies end; later output of
// such a child is lost. The child itself lives on, as a detached process
// in a container does, and dies with the container or with Close.
//
// Stdin EOF: on a pipe the process reads EOF. A terminal has no
// half-close, so with a tty stdin EOF is not forwarded (no ^D is typed).
// For attach, see Runtime.Attach (containerd's stdinOnce rules).
package localrt
