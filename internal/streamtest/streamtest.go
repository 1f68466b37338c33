// Package streamtest is what the streaming tests of the node, the gateway,
// the client and the CLI share: pods on the local runtime behind a started
// node on loopback, and loopback TCP servers that play a pod's ports. Every
// helper registers its own cleanup, which checks that things shut down.
package streamtest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
	"github.com/porthole/porthole/node"
)

// Timeout bounds every wait of these helpers; none should come near it.
const Timeout = 15 * time.Second

// Container is a container named name running command.
func Container(name string, command ...string) kube.Container {
	return kube.Container{Name: name, Command: command}
}

// Pod is a pod of namespace default with containers.
func Pod(name string, containers ...kube.Container) *kube.Pod {
	return &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: name, Namespace: kube.DefaultNamespace},
		Spec: kube.PodSpec{Containers: containers}}
}

// SleepPod is the pod most tests use: pod name, one container "c" that
// sleeps (and never reads stdin).
func SleepPod(name string) *kube.Pod { return Pod(name, Container("c", "sleep", "100000")) }

// NodeOptions adjust StartNode. The zero value is a plain node.
type NodeOptions struct {
	Runtime localrt.Options // StateDir defaults to a test directory
	Node    node.Options    // Logger defaults to discarding
	// Wrap, when set, wraps the node's handler (a fault proxy, a probe).
	Wrap func(http.Handler) http.Handler
	// TCPOnly hides the runtime's UDP support from the node: a porthole
	// node that cannot forward UDP, as an older one.
	TCPOnly bool
}

// tcpOnly is a Runtime without node.UDPRuntime.
type tcpOnly struct{ node.Runtime }

// Node is a started node serving pods from the local runtime.
type Node struct {
	URL     string // base URL of its server on 127.0.0.1
	Node    *node.Node
	Runtime *localrt.Runtime
}

// StartNode runs pods on a local runtime behind a node served on
// 127.0.0.1, and returns once every container of every pod runs (exec into
// a container not started yet is refused, as in Kubernetes). Cleanup
// closes the server, shuts the node down (within 10 s, or the test fails)
// and closes the runtime.
func StartNode(t testing.TB, pods []*kube.Pod, o *NodeOptions) *Node {
	t.Helper()
	n := NewNode(t, pods, o)
	var h http.Handler = n.Node
	if o != nil && o.Wrap != nil {
		h = o.Wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // runs before NewNode's cleanup: the server first
	n.URL = srv.URL
	return n
}

// NewNode is StartNode without the server, for tests that serve the node's
// handler themselves.
func NewNode(t testing.TB, pods []*kube.Pod, o *NodeOptions) *Node {
	t.Helper()
	if o == nil {
		o = &NodeOptions{}
	}
	ro, no := o.Runtime, o.Node
	if ro.StateDir == "" {
		ro.StateDir = t.TempDir()
	}
	if no.Logger == nil {
		no.Logger = slog.New(slog.DiscardHandler)
	}
	rt, err := localrt.New(pods, &ro)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rt.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	var nrt node.Runtime = rt
	if o.TCPOnly {
		nrt = tcpOnly{rt}
	}
	n := &Node{Node: node.New(nrt, &no), Runtime: rt}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := n.Node.Shutdown(sctx); err != nil {
			t.Errorf("node shutdown: %v", err)
		}
		cancel()
		if err := rt.Close(); err != nil {
			t.Errorf("runtime close: %v", err)
		}
	})
	for _, p := range pods {
		WaitRunning(t, rt, p.Namespace, p.Name)
	}
	return n
}

// WaitRunning waits until every container of pod ns/name runs ("":
// namespace default).
func WaitRunning(t testing.TB, rt node.Runtime, ns, name string) {
	if ns == "" {
		ns = kube.DefaultNamespace
	}
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		pod, err := rt.Pod(context.Background(), ns, name)
		if err != nil {
			t.Fatal(err)
		}
		running := len(pod.Status.ContainerStatuses) == len(pod.Spec.Containers)
		for _, cs := range pod.Status.ContainerStatuses {
			running = running && cs.State.Running != nil
		}
		if running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s not running: %+v", name, pod.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TCPServer runs serve on every connection to a 127.0.0.1 port and returns
// the port; cleanup closes the listener and joins the handlers.
func TCPServer(t testing.TB, serve func(net.Conn)) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// EchoServer is a TCPServer that echoes every connection.
func EchoServer(t testing.TB) uint16 {
	return TCPServer(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}
