package client

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
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/kube/kubeconfig"
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

// TestConfigFromKubeconfig: a kubeconfig's CA with an exec plugin's token,
// or with a client certificate (then, as client-go, the plugin is not run),
// reach a TLS server that also offers HTTP/2 (the upgrade must still run
// on HTTP/1.1), on both wires.
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
		cn := "-"
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		seen = append(seen, r.Header.Get("Authorization")+"|"+cn+"|"+r.Proto)
		if r.Header.Get("Authorization") != "Bearer from-plugin" && cn != "alice" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mu.Unlock()
		defer mu.Lock()
		n.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.serverCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	plugin := filepath.Join(dir, "plugin")
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\necho run >> "+ran+"\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-plugin\"}}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	exec := &kubeconfig.ExecConfig{APIVersion: kubeconfig.ExecV1, Command: plugin, InteractiveMode: "Never"}
	for _, tc := range []struct {
		name     string
		cc       kubeconfig.ClientConfig
		want     string
		wantRuns int
	}{
		{"plugin token", kubeconfig.ClientConfig{Server: srv.URL, CAData: pki.caPEM, Exec: exec}, "Bearer from-plugin|-|HTTP/1.1", 1},
		{"certificate wins over the plugin", kubeconfig.ClientConfig{Server: srv.URL, CAData: pki.caPEM, CertData: pki.clientCert, KeyData: pki.clientKey, Exec: exec},
			"|alice|HTTP/1.1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(ran)
			mu.Lock()
			seen = nil
			mu.Unlock()
			cfg, err := ConfigFromKubeconfig(&tc.cc, nil)
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
			if len(seen) != 2 || seen[0] != tc.want || seen[1] != tc.want {
				t.Errorf("server saw %q, want two requests as %q", seen, tc.want)
			}
			runs, _ := os.ReadFile(ran)
			if got := strings.Count(string(runs), "run"); got != tc.wantRuns {
				t.Errorf("plugin ran %d times, want %d", got, tc.wantRuns)
			}
		})
	}
}

// TestRefusedPluginTokenIsRefreshedOnce: a 401 for a plugin's cached token
// runs the plugin again and retries once, for the pod lookup and each
// wire's upgrade; a server that keeps refusing gets one retry, no loop.
func TestRefusedPluginTokenIsRefreshedOnce(t *testing.T) {
	n := newNodeHandler(t)
	var good atomic.Value
	good.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+good.Load().(string) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/api/v1/namespaces/default/pods/p" { // the lookup; the node serves only streams
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c"}]}}`)
			return
		}
		n.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	plugin := filepath.Join(dir, "plugin")
	// Each run prints token-N, N counting the runs.
	script := "#!/bin/sh\necho x >> " + count + "\nn=$(wc -l < " + count + ")\n" +
		"echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"token-'$n'\"}}'\n"
	if err := os.WriteFile(plugin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromKubeconfig(&kubeconfig.ClientConfig{Server: srv.URL, Exec: &kubeconfig.ExecConfig{APIVersion: kubeconfig.ExecV1, Command: plugin, InteractiveMode: "Never"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runs := func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "x")
	}
	good.Store("token-2") // the first token is stale
	if _, err := c.GetPod(execCtx(t), "default", "p"); err != nil {
		t.Fatalf("pod lookup: %v", err)
	}
	if runs() != 2 {
		t.Errorf("plugin ran %d times for the lookup, want 2", runs())
	}
	for i, wire := range wires {
		good.Store(fmt.Sprintf("token-%d", 3+i)) // rotated: the cached one is refused
		var out bytes.Buffer
		if err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"echo", "again"}, StreamOptions: StreamOptions{Stdout: &out, Wire: wire}}); err != nil {
			t.Fatalf("%s: %v", wire, err)
		}
		if out.String() != "again\n" || runs() != 3+i {
			t.Errorf("%s: stdout %q after %d plugin runs, want \"again\\n\" after %d", wire, out.String(), runs(), 3+i)
		}
	}
	good.Store("never")
	before := runs()
	_, err = c.GetPod(execCtx(t), "default", "p")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || runs() != before+1 {
		t.Errorf("always refused: %v after %d more runs, want a 401 after one", err, runs()-before)
	}
}

func TestConfigFromKubeconfigRejects(t *testing.T) {
	if _, err := ConfigFromKubeconfig(&kubeconfig.ClientConfig{Server: "https://h", CAData: []byte("not pem")}, nil); err == nil {
		t.Error("accepted a CA without certificates")
	}
	if _, err := ConfigFromKubeconfig(&kubeconfig.ClientConfig{Server: "https://h", CertData: []byte("x"), KeyData: []byte("y")}, nil); err == nil {
		t.Error("accepted a broken client certificate")
	}
}

// TestRequestTimeout: Timeout bounds the pod lookup (kubectl's
// --request-timeout), and a lookup within it is unaffected.
func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") == "" && r.URL.Path == "/api/v1/namespaces/default/pods/slow" {
			<-release
		}
		io.WriteString(w, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c"}]}}`)
	}))
	defer srv.Close()
	defer close(release)
	c, err := New(&Config{Host: srv.URL, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPod(t.Context(), "default", "fast"); err != nil {
		t.Errorf("fast lookup: %v", err)
	}
	if _, err := c.GetPod(t.Context(), "default", "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow lookup: %v, want the deadline", err)
	}
}
