// Package criref is the reference node: the kubelet's own streaming stack
// (k8s.io/cri-streaming and the 1.37 kubelet's WebSocket front from
// k8s.io/apiserver/pkg/util/proxy) serving local processes, so that porthole
// can be measured and checked against the real thing.
//
// Topology, all in one process and on one 127.0.0.1 listener:
//
//	client-go ──WS v5──> front (/api/v1/... or /exec/ns/pod/c) ──StreamTranslatorHandler──┐
//	client-go ──SPDY───> front ──UpgradeAwareHandler (raw proxy)───────────────────────────┤
//	client-go ──SPDY or legacy WS──> /cri/exec/{token} (one-time URL from ExecURL) <───────┘
//	                                   cri-streaming Server ──> Runtime (os/exec, creack/pty)
//
// The front does what a 1.37 kubelet with ExtendWebSocketsToKubelet does: it
// asks the CRI server for a one-time URL (GetExec/GetAttach/GetPortForward,
// as the kubelet does over gRPC), then translates WebSocket v5 to SPDY,
// tunnels SPDY-over-WebSocket port-forward, or proxies everything else.
//
// The Runtime behaves like a container runtime would behind that library:
// exec runs the command as a child process (a pty when tty is set), the exit
// code travels as a k8s.io/utils/exec.CodeExitError so the library writes a
// NonZeroExitCode status, attach joins the standard streams of a long-running
// declared container, and port-forward dials 127.0.0.1:port. There is no
// isolation: a "container" is a name, and exec runs commands on this host.
package criref
