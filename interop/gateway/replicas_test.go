package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// switchCut passes writes on and, once more than n bytes went through,
// points the proxy at another replica and cuts its connections (stall,
// then reset).
type switchCut struct {
	w     io.Writer
	n     int64
	seen  int64
	proxy *harness.Proxy
	to    string
	cut   bool
}

func (c *switchCut) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.seen += int64(n)
	if !c.cut && c.seen > c.n {
		c.cut = true
		c.proxy.SetUpstream(c.to)
		c.proxy.Cut(300 * time.Millisecond)
	}
	return n, err
}

// TestReplicasResume: two `porthole gateway` replicas (--replica-name,
// --peers with both, --peer-token-file, --peer-ca-file) in front of one
// node, behind a load balancer; porthole exec -i cat's connection to
// replica a is cut mid-output and its reconnection lands on b, which
// passes it to a: every byte arrives once, exit code 0, and a audits the
// resume while b audits none.
func TestReplicasResume(t *testing.T) {
	dir := t.TempDir()
	ports := [2]int{}
	for i := range ports {
		p, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	tokenFile, caFile := filepath.Join(dir, "peer-token"), filepath.Join(dir, "peer-ca.pem")
	if err := os.WriteFile(tokenFile, []byte("replicas-share-this-secret-of-40-bytes!!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, topo.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	peers := fmt.Sprintf("a=https://127.0.0.1:%d,b=https://127.0.0.1:%d", ports[0], ports[1])
	var gws [2]*gatewayProc
	for i, name := range []string{"a", "b"} {
		extra := append(append([]string(nil), topo.tlsFlags...), "--listen", fmt.Sprintf("127.0.0.1:%d", ports[i]),
			"--replica-name", name, "--peers", peers, "--peer-token-file", tokenFile, "--peer-ca-file", caFile)
		g, err := startGateway(topo.bin, topo.dir, "replica-"+name, "http://"+env.Server.Addr, extra...)
		if err != nil {
			t.Fatal(err)
		}
		gws[i] = g
		t.Cleanup(func() {
			if err := g.stop(); err != nil {
				t.Errorf("replica %s: %v\n%s", name, err, g.logTail())
			}
		})
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(topo.caPEM)
	lb, err := harness.NewProxy(fmt.Sprintf("127.0.0.1:%d", ports[0]), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lb.Close() })
	kc := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\ncurrent-context: lb\nclusters:\n- name: lb\n  cluster:\n    server: " + lb.URL() +
		"\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString(lb.CACertPEM()) +
		"\nusers:\n- name: u\n  user:\n    token: alice-token\ncontexts:\n- name: lb\n  context: {cluster: lb, user: u, namespace: default}\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	in, err := os.Open(env.Input.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := harness.NewHashWriter()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, topo.bin, "--kubeconfig", kc, "exec", "-i", harness.PodExec, "--", "cat")
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &switchCut{w: out, n: 1 << 20, proxy: lb, to: fmt.Sprintf("127.0.0.1:%d", ports[1])}, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("porthole exec: %v; stderr:\n%s\nreplica a:\n%s\nreplica b:\n%s", err, stderr.String(), gws[0].logTail(), gws[1].logTail())
	}
	if lb.Cuts() != 1 {
		t.Fatalf("never cut (%d bytes out)", out.Len())
	}
	if out.Len() != env.Input.Size || out.Sum() != env.Input.SHA256 {
		t.Errorf("stdout %d bytes sha256 %s, want the input's %d bytes sha256 %s", out.Len(), out.Sum(), env.Input.Size, env.Input.SHA256)
	}
	if want := "connection lost, resuming session...\nresumed\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	if n := countStage(t, gws[0].AuditLog, "SessionResume", "alice"); n != 1 {
		t.Errorf("replica a audited %d resumes by alice, want 1", n)
	}
	if n := countStage(t, gws[1].AuditLog, "SessionResume", ""); n != 0 {
		t.Errorf("replica b audited %d resumes, want none", n)
	}
}

// countStage counts the audit records of stage (by user, unless "").
func countStage(t *testing.T, path, stage, user string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev struct{ Stage, User string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if ev.Stage == stage && (user == "" || strings.EqualFold(ev.User, user)) {
			n++
		}
	}
	return n
}
