package deploy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/porthole/porthole/interop/internal/harness"
)

// render runs a real kubectl's kustomize over ../../deploy.
func render(t *testing.T) []map[string]any {
	t.Helper()
	return renderDir(t, "../../deploy")
}

// renderWith renders deploy/ with the given components of it, as a team's
// overlay does: a kustomization beside a copy of deploy/ (kustomize refuses
// a root inside the tree it includes).
func renderWith(t *testing.T, components ...string) []map[string]any {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "deploy"), os.DirFS("../../deploy")); err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../deploy\ncomponents:\n"
	for _, c := range components {
		k += "- ../deploy/" + c + "\n"
	}
	write(t, filepath.Join(dir, "overlay", "kustomization.yaml"), k)
	return renderDir(t, filepath.Join(dir, "overlay"))
}

func renderDir(t *testing.T, dir string) []map[string]any {
	t.Helper()
	var bin string
	for _, k := range harness.FindKubectls("") {
		if k.Minor == 33 {
			bin = k.Path
		}
	}
	if bin == "" {
		harness.MissingPeer(t, "kubectl 1.33 not installed")
	}
	out, err := exec.Command(bin, "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	var docs []map[string]any
	for _, d := range strings.Split(string(out), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, d)
		}
		docs = append(docs, m)
	}
	return docs
}

func find(t *testing.T, docs []map[string]any, kind string) map[string]any {
	t.Helper()
	for _, d := range docs {
		if d["kind"] == kind {
			return d
		}
	}
	t.Fatalf("no %s in the manifests", kind)
	return nil
}

// get walks a decoded document: keys for maps, ints for lists.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestManifests: what a team needs is in the rendered manifests.
func TestManifests(t *testing.T) {
	docs := render(t)
	var kinds []string
	for _, d := range docs {
		kinds = append(kinds, d["kind"].(string))
		if ns := get(d, "metadata", "namespace"); d["kind"] != "Namespace" && d["kind"] != "ClusterRole" && d["kind"] != "ClusterRoleBinding" && ns != "porthole" {
			t.Errorf("%s %v in namespace %v, want porthole", d["kind"], get(d, "metadata", "name"), ns)
		}
	}
	slices.Sort(kinds)
	want := []string{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "Namespace", "PodDisruptionBudget", "Service", "Service", "ServiceAccount", "StatefulSet"}
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	role := find(t, docs, "ClusterRole")
	rules, _ := role["rules"].([]any)
	if len(rules) != 1 || fmt.Sprint(get(rules[0], "verbs")) != "[impersonate]" || fmt.Sprint(get(rules[0], "resources")) != "[users groups]" {
		t.Errorf("the gateway's ClusterRole must impersonate users and groups and nothing more: %v", rules)
	}
	dep := find(t, docs, "StatefulSet")
	c := get(dep, "spec", "template", "spec", "containers", 0)
	args := get(c, "args").([]any)
	arg := func(name string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a.(string), name+"="); ok {
				return v
			}
		}
		return ""
	}
	var headless map[string]any
	for _, d := range docs {
		if d["kind"] == "Service" && get(d, "metadata", "name") == get(dep, "spec", "serviceName") {
			headless = d
		}
	}
	replicas := int(get(dep, "spec", "replicas").(float64))
	peers := strings.Split(arg("--peers"), ",")
	checks := map[string]bool{
		"a headless Service for its replicas": headless != nil && get(headless, "spec", "clusterIP") == "None",
		"every replica a peer": len(peers) == replicas && slices.IndexFunc(peers, func(p string) bool {
			return !strings.Contains(p, "."+fmt.Sprint(get(dep, "spec", "serviceName"))+".porthole.svc:8443")
		}) < 0,
		"replica named after its pod": arg("--replica-name") == "$(POD_NAME)" && get(c, "env", 0, "valueFrom", "fieldRef", "fieldPath") == "metadata.name",
		"2+ replicas":                 get(dep, "spec", "replicas").(float64) >= 2,
		"non-root pod":                get(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") == true,
		"read-only root":              get(c, "securityContext", "readOnlyRootFilesystem") == true,
		"no privilege escalation":     get(c, "securityContext", "allowPrivilegeEscalation") == false,
		"capabilities dropped":        fmt.Sprint(get(c, "securityContext", "capabilities", "drop")) == "[ALL]",
		"liveness on /livez":          get(c, "livenessProbe", "httpGet", "path") == "/livez",
		"readiness on /readyz":        get(c, "readinessProbe", "httpGet", "path") == "/readyz",
		"resource requests":           get(c, "resources", "requests", "memory") != nil && get(c, "resources", "requests", "cpu") != nil,
		"drains before the grace":     slices.ContainsFunc(get(c, "args").([]any), func(a any) bool { return strings.HasPrefix(a.(string), "--shutdown-delay-duration=") }),
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("StatefulSet: not %s", what)
		}
	}
	if get(find(t, docs, "PodDisruptionBudget"), "spec", "minAvailable") != float64(1) {
		t.Error("PodDisruptionBudget: minAvailable is not 1")
	}
}

// TestContainerStarts runs porthole gateway with the StatefulSet's exact
// arguments, its volumes laid out in a directory (paths under /etc/porthole
// and the service account's mount remapped, the in-cluster server replaced
// by a stand-in API server on loopback): the probes answer over TLS without
// credentials, and a caller from the token file reaches the API server with
// the service account's token, impersonated as itself.
func TestContainerStarts(t *testing.T) {
	docs := render(t)
	c := get(find(t, docs, "StatefulSet"), "spec", "template", "spec", "containers", 0)
	kubeconfig := get(find(t, docs, "ConfigMap"), "data", "kubeconfig").(string)
	root := t.TempDir()
	remap := func(p string) string { return filepath.Join(root, p) }

	// The API server stand-in records what the gateway sends.
	var mu sync.Mutex
	var seen http.Header
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		io.WriteString(w, `{"major":"1","minor":"37","gitVersion":"v1.37.2"}`)
	}))
	defer api.Close()
	sa := "/var/run/secrets/kubernetes.io/serviceaccount"
	write(t, remap(sa+"/token"), "sa-token\n")
	write(t, remap(sa+"/ca.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})))
	kubeconfig = strings.ReplaceAll(kubeconfig, "https://kubernetes.default.svc", api.URL)
	kubeconfig = strings.ReplaceAll(kubeconfig, sa, remap(sa))
	mounts := map[string]string{}
	for _, m := range get(c, "volumeMounts").([]any) {
		mounts[get(m, "name").(string)] = remap(get(m, "mountPath").(string))
	}
	write(t, filepath.Join(mounts["upstream"], "kubeconfig"), kubeconfig)
	write(t, filepath.Join(mounts["tokens"], "tokens.csv"), "alice-token,alice,1,\"devs\"\n")
	certPEM, keyPEM, pool := selfSigned(t)
	write(t, filepath.Join(mounts["tls"], "tls.crt"), certPEM)
	write(t, filepath.Join(mounts["tls"], "tls.key"), keyPEM)
	write(t, filepath.Join(mounts["peers"], "token"), "replicas-share-this-secret-of-40-bytes!!\n")
	write(t, filepath.Join(mounts["peers"], "ca.crt"), certPEM)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var args []string
	for _, a := range get(c, "args").([]any) {
		s := a.(string)
		s = regexp.MustCompile(`/etc/porthole/`).ReplaceAllString(s, root+"/etc/porthole/")
		s = strings.ReplaceAll(s, "$(POD_NAME)", "porthole-gateway-0") // as the kubelet expands it
		if strings.HasPrefix(s, "--listen=") {
			s = "--listen=" + addr // tests listen on loopback only
		}
		args = append(args, s)
	}
	bin, err := harness.BuildPorthole(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("gateway output:\n%s", logs.String())
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/version", nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "v1.37.2") {
		t.Fatalf("/version as alice: %d %s", resp.StatusCode, body)
	}
	if seen.Get("Authorization") != "Bearer sa-token" || seen.Get("Impersonate-User") != "alice" || !slices.Contains(seen.Values("Impersonate-Group"), "devs") {
		t.Errorf("the API server saw Authorization %q, Impersonate-User %q, groups %v; want the service account's token, alice, devs",
			seen.Get("Authorization"), seen.Get("Impersonate-User"), seen.Values("Impersonate-Group"))
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// selfSigned is a serving certificate for 127.0.0.1.
func selfSigned(t *testing.T) (certPEM, keyPEM string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "porthole-gateway"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})), pool
}
