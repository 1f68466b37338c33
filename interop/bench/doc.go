// Package bench compares porthole's node with the reference node (the
// kubelet's streaming libraries, package criref) in one run, both driven by
// client-go v0.37 and both running as separate processes, and reports
// ratios. It makes no timed assertions: the figures are for people.
//
// Rows (see Run):
//
//   - exec stdout throughput: `head -c SIZE /dev/zero` into a counting
//     sink, MB/s, best of R runs, and the server process's CPU time
//     (utime+stime, children excluded) per GiB over all runs;
//   - session start latency: exec `true`, median of N;
//   - memory per idle exec session: N sessions of `cat` held open with
//     stdin open, server process VmRSS delta / N, and Go heap delta / N
//     where the server exposes it (the reference after a forced GC; porthole
//     from go_memstats_heap_inuse_bytes on /metrics, if it serves that);
//     each memory cell runs on a fresh server process;
//   - port-forward (client-go's forwarder, as kubectl builds it, to a
//     loopback server of the bench): throughput and CPU as above, the
//     median time for a new connection to echo one byte, and VmRSS per idle
//     forwarded connection; over the SPDY-in-WebSocket tunnel and plain
//     SPDY;
//   - port-forward throughput and server CPU with porthole's own client
//     (client.PortForward) as the forwarder, on both wires and both nodes;
//   - translation (BenchmarkTranslationThroughput, BenchmarkTranslationStart):
//     client-go's WebSocket v5 exec through porthole's gateway
//     (--upstream-spdy-only, see StartGateway) and through the API server's
//     translator in the reference's front, both translating to the same
//     cri-streaming SPDY server (the gateway path has one more hop: the
//     front's raw proxy);
//   - idle sessions held at once (HoldSessions; 10,000 on WS v5, 1,000 on
//     SPDY, each server on a fresh process): how many it held (fewer when
//     its open-file limit cannot hold them all: descriptors per session
//     are measured first), RSS and goroutines per session, RSS projected
//     to the count wanted, a new session's start latency while they are
//     held against an idle server's, and the goroutines left once they
//     ended;
//   - loopback TCP with no forwarder at all: the ceiling of the
//     port-forward rows on this machine (the same figure in both columns);
//
// exec rows run over three wires:
//
//   - WS v5: porthole directly; the reference through the 1.37 kubelet
//     translator (WebSocket server + SPDY client) in front of cri-streaming
//     (SPDY server), all in the reference process, as kubelet + runtime;
//   - SPDY: porthole directly; the reference at a one-time cri-streaming
//     URL, minted before the clock starts;
//   - WS v4 (legacy): as SPDY, cri-streaming's own WebSocket server; no
//     stdin half-close, so idle sessions are ended by dropping them.
//
// The machine is shared and small: compare ratios within one run, not
// absolute figures across runs.
package bench
