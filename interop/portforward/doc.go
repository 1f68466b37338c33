// Package portforward proves port-forward on every wire against real peers:
// kubectl 1.27 ... 1.33 and 1.37 (SPDY, and the SPDY/3.1+portforward.k8s.io
// WebSocket tunnel where the version speaks it) and client-go v0.37's two
// dialers against `porthole serve`; porthole's own client (the library and
// the `porthole port-forward` command) against `porthole serve` and against
// the reference node (interop/criref: the kubelet's streaming library behind
// the 1.37 kubelet front, plain SPDY through its upgrade-aware proxy and the
// tunnel through its tunnelling handler).
//
// Every peer runs the same cases: bytes both ways byte-exact (SHA-256)
// through an echo server and a sink, 100 concurrent connections with
// distinct payloads, a half-close whose answer still arrives, and a remote
// port nothing listens on. The last one is where peers differ, and each is
// held to its real behaviour: kubectl and client-go end the whole session
// ("lost connection to pod"); porthole ends that connection only. porthole's
// command also survives `porthole serve` being killed (SIGKILL) and restarted
// on the same port under it, and its library the reference node being
// closed and started again on the same port.
//
// TestUDPPortForward covers porthole's UDP extension: a DNS query and
// datagrams of every size through porthole serve (library and command, both
// wires), and the reference node's refusal, prompt and worded, since the
// kubelet's library negotiates only portforward.k8s.io.
//
// The tests are in this package only; it exports nothing.
package portforward
