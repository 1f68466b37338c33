package gateway

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain before any test runs and read-only after.
var env *harness.Env

// topo is the gateways and the reference node, started once.
var topo *topology

func TestMain(m *testing.M) {
	leaks := func() error {
		return goleak.Find(goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"))
	}
	opts := harness.SetupOptions{Kubectl: true, DataSize: 8 * harness.MiB, InputSize: 4 * harness.MiB}
	os.Exit(harness.MainExit(func() int {
		t, err := startTopology()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gateway interop setup:", err)
			return 1
		}
		topo = t
		code := m.Run()
		if err := t.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "gateway interop teardown:", err)
			code = 1
		}
		return code
	}, opts, func(e *harness.Env) { env = e }, leaks))
}

const tokens = `alice-token,alice,1,"admins"
bob-token,bob,2,readers
`

// rbac: admins may do everything streaming needs; bob holds only get.
const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: streaming}
rules:
- apiGroups: [""]
  resources: [pods, pods/exec, pods/attach, pods/portforward]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins}
subjects: [{kind: Group, name: admins}]
roleRef: {kind: ClusterRole, name: streaming}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: read-exec}
rules:
- apiGroups: [""]
  resources: [pods, pods/exec]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob}
subjects: [{kind: User, name: bob}]
roleRef: {kind: ClusterRole, name: read-exec}
`

type topology struct {
	dir       string
	bin       string   // porthole
	tlsFlags  []string // the gateways' serving certificate, signed by caPEM
	caPEM     []byte
	ref       *harness.Server
	toNode    *gatewayProc // in front of porthole serve (WebSocket passes through)
	toKubelet *gatewayProc // in front of the kubelet's stack, SPDY only
	toWSOnly  *gatewayProc // in front of porthole serve, treated as WebSocket only
}

// gatewayProc is one running `porthole gateway`.
type gatewayProc struct {
	cmd      *exec.Cmd
	URL      string
	AuditLog string
	log      *os.File
	done     chan error
}

func startTopology() (_ *topology, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "gateway-interop-")
	if err != nil {
		return nil, err
	}
	t := &topology{dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.stop())
		}
	}()
	bin, err := harness.BuildPorthole(ctx, dir)
	if err != nil {
		return nil, err
	}
	ref, err := buildRefserve(ctx, dir)
	if err != nil {
		return nil, err
	}
	refDir := filepath.Join(dir, "ref")
	if err := os.MkdirAll(refDir, 0o700); err != nil {
		return nil, err
	}
	if t.ref, err = harness.StartServer(ctx, ref, refDir); err != nil {
		return nil, fmt.Errorf("start refserve: %w", err)
	}
	for _, f := range []struct{ name, content string }{{"tokens.csv", tokens}, {"rbac.yaml", rbac}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.content), 0o600); err != nil {
			return nil, err
		}
	}
	certPath, keyPath, caPEM, err := writeServingCert(dir)
	if err != nil {
		return nil, err
	}
	t.caPEM = caPEM
	tlsFlags := []string{"--tls-cert-file", certPath, "--tls-private-key-file", keyPath}
	t.bin, t.tlsFlags = bin, tlsFlags
	if t.toNode, err = startGateway(bin, dir, "node", "http://"+env.Server.Addr, tlsFlags...); err != nil {
		return nil, err
	}
	if t.toKubelet, err = startGateway(bin, dir, "kubelet", "http://"+t.ref.Addr, append(tlsFlags, "--upstream-spdy-only")...); err != nil {
		return nil, err
	}
	if t.toWSOnly, err = startGateway(bin, dir, "wsonly", "http://"+env.Server.Addr, append(tlsFlags, "--upstream-websocket-only")...); err != nil {
		return nil, err
	}
	return t, nil
}

// buildRefserve builds interop/cmd/refserve.
func buildRefserve(ctx context.Context, dir string) (string, error) {
	interop, _, err := harness.Roots()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "refserve")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/refserve")
	cmd.Dir = interop
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build refserve: %v: %s", err, b)
	}
	return out, nil
}

var listening = regexp.MustCompile(`gateway listening on (https?://[0-9.:]+)`)

func startGateway(bin, dir, name, upstream string, extra ...string) (*gatewayProc, error) {
	g := &gatewayProc{AuditLog: filepath.Join(dir, name+"-audit.jsonl"), done: make(chan error, 1)}
	var err error
	if g.log, err = os.Create(filepath.Join(dir, name+"-gateway.log")); err != nil {
		return nil, err
	}
	args := append([]string{"gateway", "--listen", "127.0.0.1:0", "--upstream", upstream,
		"--token-auth-file", filepath.Join(dir, "tokens.csv"), "--rbac-file", filepath.Join(dir, "rbac.yaml"),
		"--audit-log-path", g.AuditLog, "--recording-dir", filepath.Join(dir, name+"-recordings"), "-v", "4"}, extra...)
	g.cmd = exec.Command(bin, args...)
	g.cmd.Stderr = g.log
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := g.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go g.wait()
	lines := make(chan string, 1)
	go firstLine(out, lines)
	select {
	case l := <-lines:
		m := listening.FindStringSubmatch(l)
		if m == nil {
			g.kill()
			return nil, fmt.Errorf("gateway %s: banner %q; log:\n%s", name, l, g.logTail())
		}
		g.URL = m[1]
	case err := <-g.done:
		return nil, fmt.Errorf("gateway %s exited at start: %v", name, err)
	case <-time.After(30 * time.Second):
		g.kill()
		return nil, fmt.Errorf("gateway %s: no banner within 30s", name)
	}
	return g, nil
}

func firstLine(r io.Reader, out chan<- string) {
	sc := bufio.NewScanner(r)
	if sc.Scan() {
		out <- sc.Text()
	} else {
		out <- ""
	}
	io.Copy(io.Discard, r)
}

func (g *gatewayProc) wait() { g.done <- g.cmd.Wait() }

func (g *gatewayProc) kill() {
	syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	<-g.done
}

// stop sends SIGTERM and requires a clean exit within 30 s.
func (g *gatewayProc) stop() error {
	if g == nil {
		return nil
	}
	defer g.log.Close()
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.done:
		if err != nil {
			return fmt.Errorf("gateway exit: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		g.kill()
		return errors.New("gateway did not stop within 30s of SIGTERM")
	}
}

func (g *gatewayProc) logTail() string {
	b, _ := os.ReadFile(g.log.Name())
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

func (t *topology) stop() error {
	var errs []error
	errs = append(errs, t.toNode.stop(), t.toKubelet.stop(), t.toWSOnly.stop())
	if t.ref != nil {
		errs = append(errs, t.ref.Stop())
	}
	errs = append(errs, os.RemoveAll(t.dir))
	return errors.Join(errs...)
}

// kubeconfig writes a kubeconfig for the gateway at url with token.
func kubeconfig(t *testing.T, url, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	user := "  user: {}\n"
	if token != "" {
		user = "  user:\n    token: " + token + "\n"
	}
	cfg := "apiVersion: v1\nkind: Config\ncurrent-context: gw\nclusters:\n- name: gw\n  cluster:\n    server: " + url +
		"\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString(topo.caPEM) + "\nusers:\n- name: u\n" + user + "contexts:\n- name: gw\n  context: {cluster: gw, user: u, namespace: default}\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
