package soak

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	utilexec "k8s.io/client-go/util/exec"

	"github.com/porthole/porthole/interop/internal/harness"
)

var flagStops = flag.Int("stops", envInt("PORTHOLE_SOAK_STOPS", 4), "server-stop sessions (env PORTHOLE_SOAK_STOPS)")

// TestServerStop is the soak's server phase: for each session a fresh
// `porthole serve` runs, an exec prints some bytes and then sleeps, and
// once the sleep is running the server gets SIGTERM. The session must end
// within its bound with a non-zero exit and a message (never exit 0: the
// command did not finish), the server must exit 0 within 30 s, and the
// command's processes must be gone.
func TestServerStop(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("server-stop seed %d", seed)
	counts := map[string]int{}
	for i := range *flagStops {
		r := rand.New(rand.NewPCG(seed, uint64(1<<32+i)))
		s := spec{seed: seed, index: i, op: opExec, path: pathDirect, fault: fault{kind: faultNone},
			marker: fmt.Sprintf("soakstop%x.%d", seed, i), size: int64(1 + r.IntN(64<<10))}
		switch x := r.IntN(4); {
		case x < 2 && len(env.Kubectls) > 0:
			k := env.Kubectls[r.IntN(len(env.Kubectls))]
			s.k, s.client = &k, k.Name()
			w := k.Wires()
			s.wire = w[r.IntN(len(w))]
		case x == 2:
			s.client = clientGo
			s.wire = []harness.Wire{{Name: "websocket", WebSocket: true}, {Name: "spdy"}}[r.IntN(2)]
		default:
			s.client = clientPorthole
			s.wire = []harness.Wire{{Name: "websocket", WebSocket: true}, {Name: "spdy"}}[r.IntN(2)]
		}
		name := fmt.Sprintf("%d-%s-%s", i, s.client, s.wire.Name)
		t.Run(name, func(t *testing.T) {
			out := runStop(t, s)
			counts[fmt.Sprintf("%s/%s %s", s.client, s.wire.Name, out)]++
			counts[out]++
		})
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server-stop seed=%d sessions=%d\n", seed, *flagStops)
	for _, k := range sortStrings(keys) {
		fmt.Fprintf(&b, "  %-40s %d\n", k, counts[k])
	}
	t.Logf("\n%s", b.String())
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// runStop runs one server-stop session and returns its outcome class.
func runStop(t *testing.T, s spec) string {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	srv, err := harness.StartServer(ctx, env.Porthole, dir, "--plain-http")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Stop()
		}
	}()
	ss := &session{spec: s, dir: dir, srv: srv}
	if ss.proxy, err = newFaultProxy(srv.Addr, s.fault, nil); err != nil {
		t.Fatal(err)
	}
	defer ss.proxy.Close()
	if err := ss.writeKubeconfig(); err != nil {
		t.Fatal(err)
	}
	sleepArg := fmt.Sprintf("600.%d%06d", s.index, s.seed%1e6)
	argv := []string{"sh", "-c", `head -c "$1" "$2"; sleep "$3"`, s.marker, strconv.FormatInt(s.size, 10), sourcePathOrData(), sleepArg}
	var stdout, stderr bytes.Buffer
	type end struct {
		code int
		msg  string
		err  error
	}
	ended := make(chan end, 1)
	go func() {
		if s.client == clientGo {
			err := ss.clientGoExec(ctx, argv, nil, &stdout, &stderr)
			var ce utilexec.CodeExitError
			switch {
			case err == nil:
				ended <- end{}
			case errors.As(err, &ce):
				ended <- end{code: ce.Code, msg: err.Error()}
			default:
				ended <- end{code: 1, msg: err.Error()}
			}
			return
		}
		cmd := ss.command(ctx, append([]string{"exec", harness.PodExec, "--"}, argv...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code, err := ss.runCLI(cmd)
		ended <- end{code: code, msg: stderr.String(), err: err}
	}()
	if err := harness.AwaitProcs(ctx, "sleep\x00"+sleepArg, 30*time.Second); err != nil {
		t.Fatalf("%v: %v\nserve log:\n%s", s, err, srv.LogTail(2048))
	}
	// Stop sends SIGTERM and requires exit status 0 within 30 s; it runs
	// while the session is still going.
	stopped = true
	stopErr := make(chan error, 1)
	go func() { stopErr <- srv.Stop() }()
	var e end
	select {
	case e = <-ended:
	case <-ctx.Done():
		t.Fatalf("%v: session did not end within %v of the server's SIGTERM (stderr %s)", s, sessionTimeout, tail(stderr.String(), 400))
	}
	if e.err != nil {
		t.Fatal(e.err)
	}
	if err := <-stopErr; err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
	for _, m := range []string{s.marker, sleepArg} {
		if err := harness.AwaitNoProcs(context.Background(), m, reapTimeout); err != nil {
			t.Errorf("%v: after the server stopped: %v", s, err)
		}
	}
	out := outClear
	switch {
	case e.code == 0:
		// The server shuts down gracefully: it can end the session
		// with a failure Status, so no client gets an exemption here.
		out = outWrongExit
	case strings.TrimSpace(e.msg) == "":
		out = outUnclear
	}
	if out != outClear {
		t.Errorf("%v: %s after the server's SIGTERM: exit %d, message %q (reproduce: -run TestServerStop -args -seed=%d)", s, out, e.code, tail(e.msg, 400), s.seed)
	} else {
		t.Logf("%v: %s: exit %d: %s", s, out, e.code, tail(e.msg, 200))
	}
	return out
}

// sourcePathOrData is a file with at least 64 KiB in it.
func sourcePathOrData() string {
	if sourcePath != "" {
		if _, err := os.Stat(sourcePath); err == nil {
			return sourcePath
		}
	}
	return env.Data.Path
}
