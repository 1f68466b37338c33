// Package bench compares porthole's node with the reference node (the
// kubelet's streaming libraries, package criref) in one run, both driven by
// client-go v0.37 and both running as separate processes, and reports
// ratios. It makes no timed assertions: the figures are for people.
//
// Rows (see Run):
//
//   - exec stdout throughput: `head -c SIZE /dev/zero` into a counting
//     sink, MB/s, median of R runs with min and max, and the server
//     process's CPU time (utime+stime, children excluded) per GiB;
//   - porthole's client (client.Exec) against client-go's executor, both
//     to porthole serve: exec throughput and the client's CPU per GiB (this
//     process's rusage, runs interleaved);
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
//   - translation (also BenchmarkTranslationThroughput and
//     BenchmarkTranslationStart): client-go's WebSocket v5 exec through
//     porthole's gateway (--upstream-spdy-only, see StartGateway) and
//     through the API server's translator in the reference's front, both
//     translating to the same cri-streaming SPDY server one TCP hop away
//     (the gateway dials the front's direct path, criref.DirectPrefix);
//   - cp: porthole cp against kubectl cp (the newest on the machine), both
//     to porthole serve, a file of -cp-size (1 GiB) each way: MB/s over
//     the whole command and the cp process's CPU per GiB;
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
// Every row with a goal of issue 17 prints it and whether this run met it.
// porthole serve and the gateway run with --profiling, so a CPU profile of
// either can be taken while a row runs (GET /debug/pprof/profile).
//
// The machine is shared and small: compare ratios within one run, not
// absolute figures across runs.
package bench
