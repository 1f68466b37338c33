package kubeconfig

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole/porthole/internal/golden"
)

func TestWriteKubeconfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, "http://127.0.0.1:7780", "porthole", "default"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode %o, want 600", mode)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, "kubeconfig.yaml", got)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the config", len(entries))
	}
}

// TestKubeconfigCredentialsRoundTrip: an HTTPS kubeconfig with an
// authority and a token, as serve writes it, loads back as written.
func TestKubeconfigCredentialsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	kc := New("https://127.0.0.1:7443", "porthole", "default")
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	kc.Clusters[0].Cluster.CertificateAuthorityData = base64.StdEncoding.EncodeToString(ca)
	kc.Users[0].User.Token = "s3cret"
	if err := WriteFile(path, kc); err != nil {
		t.Fatal(err)
	}
	cc, err := Load(&LoadOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if cc.Server != "https://127.0.0.1:7443" || string(cc.CAData) != string(ca) || cc.Token != "s3cret" {
		t.Errorf("loaded server %q, CA %q, token %q", cc.Server, cc.CAData, cc.Token)
	}
}

func TestWriteKubeconfigMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "config")
	if err := Write(path, "http://x", "c", ""); err == nil {
		t.Fatal("got nil error for a missing directory")
	}
}
