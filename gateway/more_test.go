package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

// TestSessionLimits: a user's sessions beyond the limit get 429 while the
// others run; once one ends, a new one starts.
func TestSessionLimits(t *testing.T) {
	node := startNode(t)
	ends := make(chan audit.Event, 8)
	gw, _ := startGateway(t, node, &gateway.Options{MaxSessionsPerUser: 1, Audit: endSink(ends)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, _, err := websocket.Dial(ctx, execURL(gw, []string{"cat"}, "stdin", "stdout"), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := streamtest.ReadAll(first.Channel(channel.Error))
	go streamtest.ReadAll(first.Channel(channel.Stdout))
	_, _, err = websocket.Dial(ctx, execURL(gw, []string{"true"}, "stdout"), nil)
	var ue *stream.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != 429 || !strings.Contains(string(ue.Body), "has reached the limit of concurrent sessions") {
		t.Fatalf("second session: got %v, want 429", err)
	}
	first.Channel(channel.Stdin).CloseWrite()
	<-st
	first.Close()
	// The slot is released before the end record is written.
	select {
	case <-ends:
	case <-ctx.Done():
		t.Fatal("first session never ended")
	}
	if out, _, err := wsExecMaybe(ctx, execURL(gw, []string{"echo", "again"}, "stdout")); out != "again\n" {
		t.Fatalf("after the first ended: %q %v", out, err)
	}
}

// endSink sends session end records to ch.
type endSink chan audit.Event

func (e endSink) Record(ev audit.Event) error {
	if ev.Stage == audit.StageEnd {
		e <- ev
	}
	return nil
}

func wsExecMaybe(ctx context.Context, u string) (string, string, error) {
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	o, s := streamtest.ReadAll(conn.Channel(channel.Stdout)), streamtest.ReadAll(conn.Channel(channel.Error))
	return string(<-o), string(<-s), nil
}

// TestGateOff: with TranslateStreamCloseWebsocketRequests=false the
// WebSocket passes straight through even to a SPDY-only upstream.
func TestGateOff(t *testing.T) {
	node := startNode(t)
	var log syncBuffer
	gw, g := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.SPDY, Audit: audit.NewJSONLog(&log),
		FeatureGates: map[string]bool{gateway.GateTranslateStreamClose: false}})
	out, _, _ := wsExec(t, execURL(gw, []string{"echo", "hi"}, "stdout"), nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.Shutdown(ctx)
	evs := log.events(t)
	if string(out) != "hi\n" || len(evs) != 2 || evs[1].WireOut != "websocket" {
		t.Errorf("got %q, records %+v, want a passed-through session", out, evs)
	}
}

// TestClientCertificates: a certificate signed by the client CA
// authenticates as its CN with its O as groups; RBAC then decides.
func TestClientCertificates(t *testing.T) {
	node := startNode(t)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	clientCert := func(cn string, orgs ...string) tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, Organization: orgs},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(rbacYAML)); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(node)
	g, err := gateway.New(&gateway.Options{Upstream: u, ClientCertificates: true, Authorizer: rbac})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(g)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven, NextProtos: []string{"http/1.1"}}
	srv.StartTLS()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Shutdown(ctx)
		srv.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(cert *tls.Certificate) error {
		cfg := &tls.Config{RootCAs: x509.NewCertPool(), NextProtos: []string{"http/1.1"}}
		cfg.RootCAs.AddCert(srv.Certificate())
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DialContext: (&net.Dialer{}).DialContext}}
		defer hc.CloseIdleConnections()
		conn, _, err := websocket.Dial(ctx, execURL(srv.URL, []string{"true"}, "stdout"), &websocket.DialOptions{HTTPClient: hc})
		if err == nil {
			streamtest.ReadAll(conn.Channel(channel.Stdout))
			<-streamtest.ReadAll(conn.Channel(channel.Error))
			conn.Close()
		}
		return err
	}
	admin := clientCert("carol", "admins")
	if err := dial(&admin); err != nil {
		t.Errorf("carol (group admins): %v", err)
	}
	var ue *stream.UpgradeError
	stranger := clientCert("dave", "nobody")
	if err := dial(&stranger); !errors.As(err, &ue) || ue.StatusCode != 403 || !strings.Contains(string(ue.Body), `User \"dave\"`) {
		t.Errorf("dave: got %v, want 403 naming dave", err)
	}
	if err := dial(nil); !errors.As(err, &ue) || ue.StatusCode != 401 {
		t.Errorf("no certificate: got %v, want 401", err)
	}
}
