package soak

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// Operations.
const (
	opExec        = "exec"       // N bytes of a known file on stdout, then exit CODE
	opExecStdin   = "exec-stdin" // N random bytes through `cat` to EOF, then exit CODE
	opPortForward = "port-forward"
	opCpIn        = "cp-in"  // a local file into the pod
	opCpOut       = "cp-out" // a pod file out
)

// Client families.
const (
	clientGo       = "client-go"
	clientPorthole = "porthole"
)

// spec is one session, fully derived from (seed, index).
type spec struct {
	seed   uint64
	index  int
	client string // kubectl-1.NN, client-go or porthole
	k      *harness.Kubectl
	wire   harness.Wire
	op     string
	path   string
	fault  fault
	size   int64 // payload bytes
	offset int64 // opExec: where in the source file the output starts
	exit   int   // exec ops: the remote exit code
	marker string
}

func (s spec) String() string {
	return fmt.Sprintf("#%d %s/%s %s via %s size=%d exit=%d fault=%s", s.index, s.client, s.wire.Name, s.op, s.path, s.size, s.exit, s.fault)
}

// cli reports whether the client is a separate process (kubectl or the
// porthole binary), which can be killed.
func (s spec) cli() bool { return s.client != clientGo }

// maxPayload bounds one session's payload; sessions are many and short.
const maxPayload = 4 << 20

var exitCodes = []int{0, 0, 0, 0, 1, 2, 42, 126, 255}

// newSpec draws session index of the run with seed. Every choice comes
// from a generator seeded with (seed, index), so one session can be rerun
// alone (-soak.only) and gives the same spec.
func newSpec(seed uint64, index int, ks []harness.Kubectl) spec {
	r := rand.New(rand.NewPCG(seed, uint64(index)))
	s := spec{seed: seed, index: index, marker: fmt.Sprintf("soak%x.%d", seed, index)}
	ws := harness.Wire{Name: "websocket", WebSocket: true}
	sp := harness.Wire{Name: "spdy"}
	switch x := r.IntN(4); {
	case x < 2 && len(ks) > 0:
		k := ks[r.IntN(len(ks))]
		s.k, s.client = &k, k.Name()
	case x == 2:
		s.client = clientGo
	default:
		s.client = clientPorthole
	}
	if s.client == clientGo {
		s.op = []string{opExec, opExecStdin}[r.IntN(2)]
	} else {
		s.op = []string{opExec, opExec, opExecStdin, opPortForward, opCpIn, opCpOut}[r.IntN(6)]
	}
	switch {
	case s.k != nil && s.op == opPortForward:
		wires := s.k.PortForwardWires()
		s.wire = wires[r.IntN(len(wires))]
	case s.k != nil:
		wires := s.k.Wires()
		s.wire = wires[r.IntN(len(wires))]
	default:
		s.wire = []harness.Wire{ws, sp}[r.IntN(2)]
	}
	s.path = paths[r.IntN(len(paths))]
	// Sizes spread over orders of magnitude: 0, tiny, and up to 4 MiB.
	switch x := r.IntN(10); {
	case x == 0 && s.op != opPortForward:
		s.size = 0
	default:
		s.size = 1 + r.Int64N(int64(1)<<(8+r.IntN(15)))
		s.size = min(s.size, maxPayload)
	}
	if s.op == opExec {
		s.offset = r.Int64N(sourceSize - s.size + 1)
	}
	if s.op == opExec || s.op == opExecStdin {
		s.exit = exitCodes[r.IntN(len(exitCodes))]
	}
	s.fault = newFault(r, s)
	return s
}

func newFault(r *rand.Rand, s spec) fault {
	kinds := []faultKind{faultStall, faultReset, faultHalfClose, faultSlowRead, faultBandwidth}
	if s.cli() {
		kinds = append(kinds, faultKill)
	}
	if r.IntN(2) == 0 {
		return fault{kind: faultNone}
	}
	f := fault{kind: kinds[r.IntN(len(kinds))]}
	// Counted from the upgrade request on: a few hundred bytes of request
	// and response heads, then the payload (twice for echoes).
	f.after = r.Int64N(s.size + 2048)
	switch f.kind {
	case faultStall:
		f.stall = time.Duration(200+r.IntN(2800)) * time.Millisecond
	case faultHalfClose:
		f.toServer = r.IntN(2) == 0
	case faultSlowRead:
		f.rate = int64(256<<10 + r.IntN(768<<10))
	case faultBandwidth:
		f.rate = int64(1<<20 + r.IntN(3<<20))
	}
	return f
}
