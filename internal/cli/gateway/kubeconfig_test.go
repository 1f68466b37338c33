package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/kube"
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
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://10.0.0.1:6443\n" +
		"    certificate-authority-data: " + ca + "\nusers:\n- name: u\n  user:\n    token: upstream-secret\n" +
		"contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cc, err := kube.LoadKubeconfig(&kube.LoadOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	var o gateway.Options
	if err := fromKubeconfig(cc, &o); err != nil {
		t.Fatal(err)
	}
	if o.Upstream.String() != "https://10.0.0.1:6443" || o.UpstreamHeader.Get("Authorization") != "Bearer upstream-secret" ||
		o.UpstreamTLS == nil || o.UpstreamTLS.RootCAs == nil || o.UpstreamTLS.InsecureSkipVerify {
		t.Errorf("got upstream %v header %v tls %+v", o.Upstream, o.UpstreamHeader, o.UpstreamTLS)
	}
}
