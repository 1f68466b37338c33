package protocol

import (
	"net/http"
	"testing"
)

func TestNegotiate(t *testing.T) {
	server := Names(WebSocketVersions)
	tests := []struct {
		name    string
		offered []string
		want    string
		ok      bool
	}{
		{"client order wins", []string{V4, V5}, V4, true},
		{"v5 alone", []string{V5}, V5, true},
		{"skips unknown", []string{"v3.channel.k8s.io", V1Base64}, V1Base64, true},
		{"nothing common", []string{V3, V2}, "", false},
		{"nothing offered", nil, "", false},
	}
	for _, tc := range tests {
		got, ok := Negotiate(tc.offered, server)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestVersionTable(t *testing.T) {
	v5, _ := Lookup(WebSocketVersions, V5)
	v4b, _ := Lookup(WebSocketVersions, V4Base64)
	v1, _ := Lookup(SPDYVersions, V1)
	v2, _ := Lookup(SPDYVersions, V2)
	if !v5.CloseSignal || !v5.StatusJSON || v5.Base64 {
		t.Errorf("v5: %+v", v5)
	}
	if !v4b.Base64 || v4b.CloseSignal || !v4b.StatusJSON {
		t.Errorf("v4 base64: %+v", v4b)
	}
	if !v1.ResetErrorStream || v1.StatusJSON || v2.Resize {
		t.Errorf("spdy v1 %+v, v2 %+v", v1, v2)
	}
	if _, ok := Lookup(SPDYVersions, V5); ok {
		t.Errorf("no SPDY server accepts v5")
	}
	for _, v := range WebSocketVersions {
		if !v.Resize {
			t.Errorf("%s: every WebSocket version has a resize channel", v.Name)
		}
	}
}

func TestSplitHeaderAndUpgrades(t *testing.T) {
	got := SplitHeader([]string{"v4.channel.k8s.io, v3.channel.k8s.io", " channel.k8s.io ", ""})
	want := []string{V4, V3, V1}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Connection", "keep-alive, Upgrade")
	r.Header.Set("Upgrade", "WebSocket")
	if !IsWebSocketUpgrade(r) || IsSPDYUpgrade(r) {
		t.Errorf("websocket request misclassified")
	}
	r.Header.Set("Upgrade", "SPDY/3.1")
	if IsWebSocketUpgrade(r) || !IsSPDYUpgrade(r) {
		t.Errorf("spdy request misclassified")
	}
	r.Header.Del("Connection")
	if IsSPDYUpgrade(r) {
		t.Errorf("no Connection: Upgrade is not an upgrade")
	}
}

func TestDropsEarlyMessages(t *testing.T) {
	for ua, want := range map[string]bool{
		"kubectl/v1.29.0 (linux/amd64) kubernetes/abcdef0":  true,
		"kubectl/v1.32.3 (darwin/arm64) kubernetes/abcdef0": true,
		"kubectl/v1.33.1 (linux/amd64) kubernetes/abcdef0":  true,
		"kubectl/v1.33.13 (linux/amd64) kubernetes/abcdef0": true,
		"kubectl/v1.34.0 (linux/amd64) kubernetes/abcdef0":  false, // fixed
		"kubectl/v1.28.9 (linux/amd64) kubernetes/abcdef0":  false, // SPDY only
		// kubectl under another name: client-go takes the binary's.
		"kubectl.1.31/v1.31.4 (linux/amd64) kubernetes/abcdef0": true,
		"kubectl-1.30/v1.30.0 (linux/amd64) kubernetes/abcdef0": true,
		"kubectl137/v1.37.2 (linux/amd64) kubernetes/abcdef0":   false,
		"notkubectl/v1.30.0 (linux/amd64) kubernetes/abcdef0":   false,
		"kubectl/v1.3.0":     false,
		"Go-http-client/1.1": false,
		"":                   false,
	} {
		if got := DropsEarlyMessages(ua); got != want {
			t.Errorf("%q: %v, want %v", ua, got, want)
		}
	}
}
