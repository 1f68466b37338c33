package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestNodeWebhookAuthorization: porthole node asks the API server (a
// SubjectAccessReview) whether a caller may use its kubelet paths, as the
// kubelet's webhook mode does: a certificate the node trusts is not enough
// without create on nodes/proxy; the API server's own kubelet client
// certificate gets through to the node (which then wants an upgrade).
func TestNodeWebhookAuthorization(t *testing.T) {
	n := env.nodes[0]
	node, err := env.cp.Admin.CoreV1().Nodes().Get(t.Context(), n.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What a scheduler matches workloads on: this machine's, as a kubelet says.
	if l, info := node.Labels, node.Status.NodeInfo; l["kubernetes.io/os"] != runtime.GOOS || l["kubernetes.io/arch"] != runtime.GOARCH ||
		info.OperatingSystem != runtime.GOOS || info.Architecture != runtime.GOARCH {
		t.Errorf("node labels %v, node info %+v: want %s/%s", l, info, runtime.GOOS, runtime.GOARCH)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/exec/default/%s/main?command=true&output=1", node.Status.DaemonEndpoints.KubeletEndpoint.Port, n.pod("exec"))
	intruder, err := env.cp.CA.Issue("intruder", false, "intruder", "some-team")
	if err != nil {
		t.Fatal(err)
	}
	apiserver, err := tls.LoadX509KeyPair(env.cp.Dir()+"/apiserver-kubelet-client.crt", env.cp.Dir()+"/apiserver-kubelet-client.key")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		code int
		body string
	}{
		{"trusted-but-not-allowed", mustPair(t, intruder), http.StatusForbidden, "Forbidden (user=intruder, verb=create, resource=nodes, subresource=proxy)"},
		{"apiserver", apiserver, http.StatusBadRequest, "Upgrade request required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(env.cp.CA.CertPEM)
			hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{tc.cert}}}}
			resp, err := hc.Post(url, "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
				t.Errorf("got %d %q, want %d and %q", resp.StatusCode, b, tc.code, tc.body)
			}
		})
	}
}

func mustPair(t *testing.T, kp *harness.KeyPair) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
