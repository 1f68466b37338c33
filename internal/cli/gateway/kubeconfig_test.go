package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// TestUpstreamFromKubeconfig takes the server, the CA and the token of the
// kubeconfig's current context for the upstream.
func TestUpstreamFromKubeconfig(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	cc := loadKubeconfig(t, t.TempDir(), "    certificate-authority-data: "+ca+"\n", "    token: upstream-secret\n")
	var o gateway.Options
	if err := fromKubeconfig(cc, &o); err != nil {
		t.Fatal(err)
	}
	if o.Upstream.String() != "https://10.0.0.1:6443" || o.UpstreamHeader.Get("Authorization") != "Bearer upstream-secret" ||
		o.UpstreamTLS == nil || o.UpstreamTLS.RootCAs == nil || o.UpstreamTLS.InsecureSkipVerify {
		t.Errorf("got upstream %v header %v tls %+v", o.Upstream, o.UpstreamHeader, o.UpstreamTLS)
	}
}

// TestUpstreamTokenFileFollowed: a kubeconfig's tokenFile (an in-cluster
// service account token, which rotates) is handed to the gateway to read
// again, not read once here; the upstream gets its current content.
func TestUpstreamTokenFileFollowed(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("sa-token-1\n"), 0o600)
	cc := loadKubeconfig(t, dir, "", "    tokenFile: token\n")
	var o gateway.Options
	if err := fromKubeconfig(cc, &o); err != nil {
		t.Fatal(err)
	}
	if o.UpstreamTokenFile != tok || o.UpstreamHeader.Get("Authorization") != "" {
		t.Fatalf("token file %q, static header %q; want the file %q and no static header", o.UpstreamTokenFile, o.UpstreamHeader.Get("Authorization"), tok)
	}
	var got string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		io.WriteString(w, `{"gitVersion":"v1.37.2"}`)
	}))
	defer up.Close()
	o.Upstream, _ = url.Parse(up.URL)
	var err error
	if o.Tokens, err = gateway.ParseTokens(strings.NewReader("caller-token,alice,1\n")); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/version", nil)
	req.Header.Set("Authorization", "Bearer caller-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "Bearer sa-token-1" {
		t.Errorf("upstream saw Authorization %q, want the token file's", got)
	}
}

// loadKubeconfig writes, in dir, a kubeconfig of one context whose cluster
// (server https://10.0.0.1:6443) and user get the extra lines given, and
// loads it as the gateway does.
func loadKubeconfig(t *testing.T, dir, clusterLines, userLines string) *kubeconfig.ClientConfig {
	t.Helper()
	path := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://10.0.0.1:6443\n" +
		clusterLines + "users:\n- name: u\n  user:\n" + userLines + "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return cc
}
