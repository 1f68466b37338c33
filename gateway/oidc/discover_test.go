package oidc

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestDiscoveryFailure: while the provider cannot be discovered, its
// tokens are refused with the reason, and the provider is asked again only
// after discoveryRetry, not once per request.
func TestDiscoveryFailure(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := New(&Options{IssuerURL: srv.URL, ClientID: "c", CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	// Shaped as a JWT of this issuer; discovery fails before any check of
	// its signature.
	tok := "eyJhbGciOiJSUzI1NiJ9." + b64(`{"iss":"`+srv.URL+`"}`) + ".c2ln"
	for range 3 {
		_, ok, err := a.AuthenticateToken(context.Background(), tok)
		if ok || err == nil || !strings.Contains(err.Error(), "discovery of "+srv.URL) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("got ok %v, err %v; want a discovery error naming the 503", ok, err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("provider asked %d times, want once within %v", n, discoveryRetry)
	}
	// The CA file is what makes the provider trusted: without it the
	// failure is the certificate's.
	b, _ := New(&Options{IssuerURL: srv.URL, ClientID: "c"})
	if _, _, err := b.AuthenticateToken(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: got %v, want a certificate error", err)
	}
}
