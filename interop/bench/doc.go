// Package bench compares porthole's node with the reference node (the
// kubelet's streaming libraries, package criref) in one run, both driven by
// client-go v0.37 and both running as separate processes, and reports
// ratios. It makes no timed assertions: the figures are for people.
//
// Rows (see Run):
//
//   - exec stdout throughput: `head -c SIZE /dev/zero` into a counting
//     sink, MB/s, best of R runs;
//   - session start latency: exec `true`, median of N;
//   - memory per idle exec session: N sessions of `cat` held open with
//     stdin open, server process VmRSS delta / N, and Go heap delta / N
//     where the server exposes it;
//
// each over three wires:
//
//   - WS v5: porthole directly; the reference through the 1.37 kubelet
//     translator (WebSocket server + SPDY client) in front of cri-streaming
//     (SPDY server), all in the reference process, as kubelet + runtime;
//   - SPDY: porthole directly; the reference at a one-time cri-streaming
//     URL, minted before the clock starts;
//   - WS v4 (legacy): as SPDY, cri-streaming's own WebSocket server; no
//     stdin half-close, so idle sessions are ended by dropping them.
//
// Port-forward rows are to come (Run's row list is open-ended).
//
// The machine is shared and small: compare ratios within one run, not
// absolute figures across runs.
package bench
