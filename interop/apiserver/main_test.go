// Package apiserver runs porthole against a real control plane: etcd and
// kube-apiserver built from k8s.io/kubernetes (interop/controlplane), with
// TLS, tokens, client certificates, Node and RBAC authorization. Two
// `porthole node --register` processes stand behind it as kubelets, one
// declaring the WebSocket node feature (the API server passes WebSockets
// straight through) and one not (the API server translates to SPDY), and
// real kubectl binaries, client-go and porthole's client stream through
// the API server to them.
package apiserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// node is one registered `porthole node`.
type node struct {
	name     string
	declared bool   // declares ExtendWebSocketsToKubelet
	suffix   string // of its pods' names
	cmd      *exec.Cmd
	logPath  string
	group    *harness.ProcGroup // its process group, with what its pods left
	exited   chan struct{}
	waitErr  error
}

// Pod names on a node: the shared names with the node's suffix, since
// pod names are unique in a namespace whichever node runs them.
func (n *node) pod(base string) string { return base + "-" + n.suffix }

var env struct {
	dir      string
	porthole string
	cp       *harness.ControlPlane
	kubectls []harness.Kubectl
	nodes    []*node
	echo     net.Listener // what port-forward cases reach through the pods
	input    *harness.DataFile

	adminKubeconfig   string
	limitedKubeconfig string
	certKubeconfig    string
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "apiserver setup:", err)
		teardown()
		return 1
	}
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "apiserver teardown:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "porthole-apiserver-")
	if err != nil {
		return err
	}
	env.dir = dir
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		return err
	}
	var kubectl137, controlplane string
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(3)
	go func() { defer wg.Done(); env.porthole, errs[0] = harness.BuildPorthole(ctx, bin) }()
	go func() { defer wg.Done(); kubectl137, errs[1] = harness.BuildKubectl137(ctx, bin) }()
	go func() { defer wg.Done(); controlplane, errs[2] = harness.BuildControlPlane(ctx, bin) }()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	all := harness.FindKubectls(kubectl137)
	if err := harness.RequireKubectls(all); err != nil {
		return err // CI: a kubectl era missing must fail, not shrink the suite
	}
	env.kubectls = pickKubectls(all)
	cpDir := filepath.Join(dir, "controlplane")
	if err := os.Mkdir(cpDir, 0o700); err != nil {
		return err
	}
	if env.cp, err = harness.StartControlPlane(ctx, controlplane, cpDir); err != nil {
		return err
	}
	if err := env.cp.SetupRBAC(ctx); err != nil {
		return err
	}
	env.adminKubeconfig = filepath.Join(dir, "admin.kubeconfig")
	env.limitedKubeconfig = filepath.Join(dir, "limited.kubeconfig")
	env.certKubeconfig = filepath.Join(dir, "cert.kubeconfig")
	userCert, err := env.cp.CA.Issue("cert-user", false, "cert-user", "system:masters")
	if err != nil {
		return err
	}
	for path, u := range map[string]harness.User{
		env.adminKubeconfig:   {Token: harness.AdminToken},
		env.limitedKubeconfig: {Token: harness.LimitedToken},
		env.certKubeconfig:    {Cert: userCert},
	} {
		if err := env.cp.WriteKubeconfig(path, u); err != nil {
			return err
		}
	}
	if env.input, err = harness.WriteDataFile(filepath.Join(dir, "input.bin"), 3<<20+17, 37); err != nil {
		return err
	}
	if env.echo, err = startEcho(); err != nil {
		return err
	}
	for _, n := range []*node{
		{name: "porthole-ws", declared: true, suffix: "ws"},
		{name: "porthole-spdy", declared: false, suffix: "spdy"},
	} {
		if err := startNode(ctx, n); err != nil {
			return err
		}
		env.nodes = append(env.nodes, n)
	}
	return nil
}

// pickKubectls keeps the kubectl of each era the issue names (1.27, 1.30,
// 1.33, 1.37) that this machine has.
func pickKubectls(all []harness.Kubectl) []harness.Kubectl {
	var out []harness.Kubectl
	for _, k := range all {
		switch k.Minor {
		case 27, 30, 33, 37:
			out = append(out, k)
		}
	}
	return out
}

const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: exec-SUFFIX
  namespace: default
spec:
  containers:
  - name: main
    image: local
    command: ["sleep", "infinity"]
---
apiVersion: v1
kind: Pod
metadata:
  name: cat-SUFFIX
  namespace: default
spec:
  containers:
  - name: main
    image: local
    command: ["cat"]
    stdin: true
---
apiVersion: v1
kind: Pod
metadata:
  name: tty-SUFFIX
  namespace: default
spec:
  containers:
  - name: main
    image: local
    command: ["sh"]
    stdin: true
    tty: true
`

// startNode runs (or runs again) `porthole node --register` for n with its own serving and
// client certificates, and waits for its pods to be Running in the API
// server.
func startNode(ctx context.Context, n *node) error {
	dir := filepath.Join(env.dir, n.name)
	if err := os.MkdirAll(dir, 0o700); err != nil { // again for a restart
		return err
	}
	serving, err := env.cp.CA.Issue(n.name+"-serving", true, n.name)
	if err != nil {
		return err
	}
	creds, err := env.cp.CA.Issue(n.name+"-client", false, "system:node:"+n.name, "system:nodes")
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.cp.WriteKubeconfig(kubeconfig, harness.User{Cert: creds}); err != nil {
		return err
	}
	pods := filepath.Join(dir, "pods.yaml")
	if err := os.WriteFile(pods, []byte(strings.ReplaceAll(manifest, "SUFFIX", n.suffix)), 0o600); err != nil {
		return err
	}
	n.logPath = filepath.Join(dir, "node.log")
	logf, err := os.Create(n.logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	n.cmd = exec.Command(env.porthole, "node", "-v", "1", "--register", "--kubeconfig", kubeconfig,
		"--node-name", n.name, "--listen", "127.0.0.1:0", "-f", pods,
		"--tls-cert-file", serving.CertFile, "--tls-private-key-file", serving.KeyFile,
		"--client-ca-file", env.cp.CA.CertFile, fmt.Sprintf("--declare-websockets=%t", n.declared))
	n.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = harness.OwnGroup()
	n.exited = make(chan struct{})
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	n.group = harness.NewProcGroup(n.cmd)
	go func() { n.waitErr = n.group.Wait(); close(n.exited) }()
	for _, base := range []string{"exec", "cat", "tty"} {
		if _, err := env.cp.AwaitPodRunning(ctx, "default", n.pod(base)); err != nil {
			return fmt.Errorf("%w\nnode %s log:\n%s", err, n.name, n.logTail(4096))
		}
	}
	return nil
}

func (n *node) logTail(size int) string {
	b, _ := os.ReadFile(n.logPath)
	if len(b) > size {
		b = b[len(b)-size:]
	}
	return string(b)
}

// mark is the node log's length now, for sessionsSince.
func (n *node) mark() int {
	fi, err := os.Stat(n.logPath)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

// sessionsSince returns "verb/wire" for each session the node logged
// after mark.
func (n *node) sessionsSince(mark int) []string {
	b, _ := os.ReadFile(n.logPath)
	if mark > len(b) {
		mark = len(b)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(b[mark:])))
	for sc.Scan() {
		l := sc.Text()
		if !strings.Contains(l, " msg=session ") {
			continue
		}
		out = append(out, field(l, "verb")+"/"+field(l, "wire"))
	}
	return out
}

func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// stop ends a node with SIGTERM; it withdraws its pods first.
func (n *node) stop() error {
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		n.group.Signal(syscall.SIGKILL)
		<-n.exited
		return fmt.Errorf("node %s did not stop within 30s; log:\n%s", n.name, n.logTail(4096))
	}
	// Anything its pods left died at its exit (ProcGroup.Wait).
	if n.waitErr != nil {
		return fmt.Errorf("node %s: %v; log:\n%s", n.name, n.waitErr, n.logTail(4096))
	}
	return nil
}

func teardown() error {
	var errs []error
	for _, n := range env.nodes {
		errs = append(errs, n.stop())
	}
	if env.cp != nil {
		errs = append(errs, env.cp.Stop())
	}
	if env.echo != nil {
		env.echo.Close()
	}
	if env.dir != "" {
		os.RemoveAll(env.dir)
	}
	return errors.Join(errs...)
}

// startEcho serves an echo on loopback: the pods share this machine's
// network, so a port-forward to its port reaches it.
func startEcho() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln, nil
}
