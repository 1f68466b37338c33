package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// gatewayProc is one running `porthole gateway` and its audit log.
type gatewayProc struct {
	*harness.Gateway
	AuditLog string
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

func startGateway(bin, dir, name, upstream string, extra ...string) (*gatewayProc, error) {
	g := &gatewayProc{AuditLog: filepath.Join(dir, name+"-audit.jsonl")}
	args := append([]string{"--upstream", upstream,
		"--token-auth-file", filepath.Join(dir, "tokens.csv"), "--rbac-file", filepath.Join(dir, "rbac.yaml"),
		"--audit-log-path", g.AuditLog, "--recording-dir", filepath.Join(dir, name+"-recordings"), "-v", "4"}, extra...)
	var err error
	if g.Gateway, err = harness.StartGateway(bin, harness.GatewayOptions{Log: filepath.Join(dir, name+"-gateway.log")}, args...); err != nil {
		return nil, fmt.Errorf("gateway %s: %w", name, err)
	}
	return g, nil
}

// stop stops the gateway, if it was started.
func (g *gatewayProc) stop() error {
	if g == nil {
		return nil
	}
	return g.Stop()
}

// logTail is the end of the gateway's log, for failure messages.
func (g *gatewayProc) logTail() string { return g.LogTail(4096) }

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
