package client

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, all PEM.
type testPKI struct {
	caPEM                 []byte
	serverCert            tls.Certificate
	clientCert, clientKey []byte
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, tmpl *x509.Certificate) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	sc, sk := issue(2, &x509.Certificate{Subject: pkix.Name{CommonName: "server"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	serverCert, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	cc, ck := issue(3, &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), serverCert: serverCert, clientCert: cc, clientKey: ck}
}

// TestConfigFromKubeconfig: a kubeconfig's CA, client certificate and exec
// plugin token reach a TLS server that requires all of them and also
// offers HTTP/2 (the upgrade must still run on HTTP/1.1), on both wires.
func TestConfigFromKubeconfig(t *testing.T) {
	pki := newPKI(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.caPEM)
	n := newNodeHandler(t)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("Authorization")+" "+r.TLS.PeerCertificates[0].Subject.CommonName+" "+r.Proto)
		if r.Header.Get("Authorization") != "Bearer from-plugin" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mu.Unlock()
		defer mu.Lock()
		n.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	plugin := filepath.Join(dir, "plugin")
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-plugin\"}}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromKubeconfig(&kube.ClientConfig{Server: srv.URL, CAData: pki.caPEM, CertData: pki.clientCert, KeyData: pki.clientKey,
		Exec: &kube.ExecConfig{APIVersion: kube.ExecV1, Command: plugin, InteractiveMode: "Never"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, wire := range wires {
		var out bytes.Buffer
		if err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"echo", "tls"}, StreamOptions: StreamOptions{Stdout: &out, Wire: wire}}); err != nil {
			t.Fatalf("%s: %v", wire, err)
		}
		if out.String() != "tls\n" {
			t.Errorf("%s: stdout %q, want \"tls\\n\"", wire, out.String())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := "Bearer from-plugin alice HTTP/1.1"
	if len(seen) != 2 || seen[0] != want || seen[1] != want {
		t.Errorf("server saw %q, want two requests as %q", seen, want)
	}
}

func TestConfigFromKubeconfigRejects(t *testing.T) {
	if _, err := ConfigFromKubeconfig(&kube.ClientConfig{Server: "https://h", CAData: []byte("not pem")}, nil); err == nil {
		t.Error("accepted a CA without certificates")
	}
	if _, err := ConfigFromKubeconfig(&kube.ClientConfig{Server: "https://h", CertData: []byte("x"), KeyData: []byte("y")}, nil); err == nil {
		t.Error("accepted a broken client certificate")
	}
}
