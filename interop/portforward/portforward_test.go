package portforward

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/interop/internal/harness"
)

// Sizes. Every peer moves 256 MiB each way twice (echo and sink): on two
// cores that takes 1 to 5 s per peer (loopback, measured), so the whole
// matrix of 24 peers stays near a minute and no peer gets a smaller proof.
// -short moves 32 MiB instead.
const (
	fullBulk   = 256 * harness.MiB
	shortBulk  = 32 * harness.MiB
	concurrent = 100
	// concurrentSize is each concurrent connection's payload (plus its
	// index, so no two have the same length either).
	concurrentSize = 256 << 10
	caseTimeout    = 5 * time.Minute
)

// peers lists every client and wire under test.
func peers() []peer {
	var ps []peer
	for _, k := range env.Kubectls {
		for _, w := range k.PortForwardWires() {
			ps = append(ps, kubectlPeer(k, w))
		}
	}
	return append(ps,
		clientGoPeer(true),
		clientGoPeer(false),
		portholePeer("porthole/serve/tunnel", harness.PodExec, serveHost, client.WireWebSocket),
		portholePeer("porthole/serve/spdy", harness.PodExec, serveHost, client.WireSPDY),
		portholePeer("porthole/criref/tunnel", "pf", crirefHost, client.WireWebSocket),
		portholePeer("porthole/criref/spdy", "pf", crirefHost, client.WireSPDY),
		portholeCLIPeer(true),
		portholeCLIPeer(false),
	)
}

// TestPortForward runs every case for every peer, one peer at a time
// (the machine has two cores), named TestPortForward/<peer>/<case>.
func TestPortForward(t *testing.T) {
	echoPort, sinkPort, closed := startPodServer(t, echo), startPodServer(t, sink), closedPort(t)
	closingPort := startPodServer(t, closeFirst)
	for _, p := range peers() {
		t.Run(p.name, func(t *testing.T) {
			t.Run("bulk", func(t *testing.T) { testBulk(t, p, echoPort, sinkPort) })
			t.Run("server-closes-first", func(t *testing.T) { testServerClosesFirst(t, p, closingPort) })
			t.Run("concurrent", func(t *testing.T) { testConcurrent(t, p, echoPort) })
			t.Run("refused-port", func(t *testing.T) { testRefused(t, p, echoPort, closed) })
		})
	}
}

func bulkSize() int64 {
	if testing.Short() {
		return shortBulk
	}
	return fullBulk
}

// testBulk pushes 256 MiB through the echo server (both ways at once)
// and to the sink (whose answer comes after our half-close), byte-exact.
func testBulk(t *testing.T, p peer, echoPort, sinkPort int) {
	s := p.start(t, []int{echoPort, sinkPort})
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	start := time.Now()
	if err := echoBulk(ctx, s.locals[0], bulkSize(), 1); err != nil {
		t.Fatalf("echo %d MiB: %v; stderr: %s", bulkSize()/harness.MiB, err, s.stderr.tail())
	}
	echoTime := time.Since(start)
	start = time.Now()
	if err := sinkBulk(ctx, s.locals[1], bulkSize(), 2); err != nil {
		t.Fatalf("sink %d MiB: %v; stderr: %s", bulkSize()/harness.MiB, err, s.stderr.tail())
	}
	t.Logf("%d MiB each way: echo %v, sink %v", bulkSize()/harness.MiB, echoTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	s.stop(t)
}

// testServerClosesFirst: the pod's server answers and closes while the
// client keeps its side open (HTTP/1.0): every byte arrives, then the end
// of stream, twice over one session. kubectl 1.27 to 1.31 close their
// local connection only when the node ends the forward.
func testServerClosesFirst(t *testing.T, p peer, port int) {
	s := p.start(t, []int{port})
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	for i := range 2 {
		if err := closedByServer(ctx, s.locals[0]); err != nil {
			t.Fatalf("connection %d: %v; stderr: %s", i, err, s.stderr.tail())
		}
	}
	s.stop(t)
}

// testConcurrent runs 100 echo connections at once, distinct payloads.
func testConcurrent(t *testing.T, p peer, echoPort int) {
	s := p.start(t, []int{echoPort})
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	if err := concurrentEcho(ctx, s.locals[0], concurrent, concurrentSize); err != nil {
		t.Fatalf("%v; stderr: %s", err, s.stderr.tail())
	}
	s.stop(t)
}

// testRefused connects to a forward whose remote port nothing listens on.
// Every peer closes that connection without a byte. kubectl and client-go
// then end the whole session ("lost connection to pod"); porthole reports
// the error, keeps the session, and the other forward still works.
func testRefused(t *testing.T, p peer, echoPort, closed int) {
	s := p.start(t, []int{echoPort, closed})
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	got, _ := refused(ctx, s.locals[1])
	if len(got) != 0 {
		t.Errorf("refused port answered %q", got)
	}
	if p.killsSession {
		err := s.awaitEnd(t)
		if err == nil || !strings.Contains(s.stderr.String()+err.Error(), "lost connection to pod") {
			t.Errorf("session end: got %v (stderr %s), want lost connection to pod", err, s.stderr.tail())
		}
		var ee *exec.ExitError
		if strings.HasPrefix(p.name, "kubectl") {
			// kubectl logs the pod's error ("an error occurred
			// forwarding", capitalised since 1.34), then exits 1.
			if !strings.Contains(strings.ToLower(s.stderr.String()), "an error occurred forwarding") {
				t.Errorf("stderr lacks the forwarding error: %s", s.stderr.tail())
			}
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("kubectl exit: got %v, want exit status 1", err)
			}
		}
		return
	}
	s.stderr.await(t, fmt.Sprintf("-> %d: error forwarding port %d to pod", closed, closed), 1, stopTimeout)
	for i := range 3 {
		if err := echoBulk(ctx, s.locals[0], harness.MiB, uint64(50+i)); err != nil {
			t.Fatalf("echo after the refused connection: %v", err)
		}
		if got, _ := refused(ctx, s.locals[1]); len(got) != 0 {
			t.Errorf("refused port answered %q", got)
		}
	}
	select {
	case <-s.ended:
		t.Fatalf("session ended: %v", errors.Join(s.err))
	default:
	}
	if strings.Contains(s.stderr.String(), "lost connection") {
		t.Errorf("session was lost: %s", s.stderr.tail())
	}
	s.stop(t)
}
