package node

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clientPKI is an authority and a client certificate it signed, as the
// API server's kubelet client certificate is.
type clientPKI struct {
	caPEM []byte
	cert  tls.Certificate
}

func newClientPKI(t *testing.T, cn string) clientPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey := key(), key()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + "-ca"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return clientPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cert: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}
}

// TestNodeServesKubeletPaths: `porthole node` serves the kubelet's exec
// path over HTTPS from the authority it makes, to a caller with a client
// certificate of --client-ca-file (exit code and output as the kubelet
// gives them); a caller without one, or with one from another authority,
// is refused 401; /healthz is open; SIGTERM ends it cleanly.
func TestNodeServesKubeletPaths(t *testing.T) {
	dir := t.TempDir()
	apiserver, stranger := newClientPKI(t, "kube-apiserver"), newClientPKI(t, "stranger")
	caFile := filepath.Join(dir, "client-ca.crt")
	if err := os.WriteFile(caFile, apiserver.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	pr, pw := io.Pipe()
	ios.Out = pw
	certDir := filepath.Join(dir, "certs")
	opts := &Options{IO: ios, Factory: &cli.Factory{IOStreams: ios}, Listen: "127.0.0.1:0", ClientCAFile: caFile, CertDir: certDir, ShutdownGrace: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node: %v", err)
		}
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	base := regexp.MustCompile(`^porthole node serving the kubelet's streaming paths on (https://127\.0\.0\.1:\d+)\n$`).FindStringSubmatch(line)
	if base == nil {
		t.Fatalf("banner %q", line)
	}
	serverCA, err := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCA)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	q := url.Values{"command": {"sh", "-c", "printf out; exit 3"}, "output": {"1"}}
	u := base[1] + "/exec/default/demo/shell?" + q.Encode()
	dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
	defer dcancel()

	hc := client(apiserver.cert)
	defer hc.CloseIdleConnections()
	conn, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{Versions: protocol.WebSocketVersions, HTTPClient: hc})
	if err != nil {
		t.Fatalf("exec with the API server's client certificate: %v", err)
	}
	stc := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(conn.Channel(channel.Error)); stc <- b }()
	out, _ := io.ReadAll(conn.Channel(channel.Stdout))
	st := <-stc
	conn.Close()
	if string(out) != "out" || string(st) != string(status.NewExit(3).Marshal()) {
		t.Errorf("exec: stdout %q, status %s; want out and exit 3", out, st)
	}

	for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "another authority": {stranger.cert}} {
		hc := client(certs...)
		_, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{Versions: protocol.WebSocketVersions, HTTPClient: hc})
		var ue *stream.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != http.StatusUnauthorized {
			// A certificate of another authority may also fail the handshake.
			if certs == nil || err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("%s: %v, want a 401 refusal", name, err)
			}
		}
		hc.CloseIdleConnections()
	}
	resp, err := client().Get(base[1] + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

func TestFlagChecks(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--client-ca-file is required (the authority of the API server's kubelet client certificate), or --anonymous-auth on loopback"},
		{[]string{"--anonymous-auth", "--listen", "0.0.0.0:10250"}, `--anonymous-auth is for loopback addresses only, not "0.0.0.0:10250": anyone reaching the port could run commands`},
		{[]string{"--client-ca-file", "ca", "--tls-cert-file", "c"}, "--tls-cert-file and --tls-private-key-file go together"},
		{[]string{"--client-ca-file", "ca", "--register"}, "--register needs --kubeconfig (the node's credentials for the API server)"},
		{[]string{"--client-ca-file", "ca", "--authorization-mode", "Webhook"}, "--authorization-mode=Webhook needs --kubeconfig (the API server to ask)"},
		{[]string{"--anonymous-auth", "--kubeconfig", "k", "--authorization-mode", "Webhook"}, "--authorization-mode=Webhook needs callers with client certificates, not --anonymous-auth"},
		{[]string{"--client-ca-file", "ca", "--authorization-mode", "RBAC"}, `--authorization-mode must be AlwaysAllow or Webhook, not "RBAC"`},
	} {
		ios, _, _, _ := iostreams.Test()
		cmd := NewCmd(&cli.Factory{IOStreams: ios}, func(context.Context, *Options) error { return nil })
		cli.AddGlobalFlags(cmd.PersistentFlags())
		cmd.SetArgs(tc.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		var fe *cli.FlagError
		if err := cmd.Execute(); err == nil || err.Error() != tc.want || !errors.As(err, &fe) {
			t.Errorf("%q: got %v, want usage error %q", tc.args, err, tc.want)
		}
	}
}
