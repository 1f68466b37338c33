package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKubeconfigEnv: serve's kubeconfig is the last resort of every client
// verb: only without --kubeconfig, KUBECONFIG and ~/.kube/config.
func TestKubeconfigEnv(t *testing.T) {
	cfg := t.TempDir()
	serve := filepath.Join(cfg, "porthole", "kubeconfig")
	f := &Factory{ConfigDir: func() (string, error) { return cfg, nil }}
	bare, withKube := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(withKube, ".kube"), 0o755)
	os.WriteFile(filepath.Join(withKube, ".kube", "config"), []byte("{}"), 0o600)
	for _, tc := range []struct {
		name, path, env, home, want string
	}{
		{"nothing else", "", "", bare, serve},
		{"flag", "/k", "", bare, ""},
		{"KUBECONFIG", "", "/e", bare, "/e"},
		{"~/.kube/config", "", "", withKube, ""},
	} {
		if got := f.KubeconfigEnv(tc.path, tc.env, tc.home); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCertDir: --cert-dir wins, then the config directory's subdirectory,
// then a temporary directory that cleanup removes.
func TestCertDir(t *testing.T) {
	cfg := t.TempDir()
	withConfig := &Factory{ConfigDir: func() (string, error) { return cfg, nil }}
	if dir, cleanup, err := withConfig.CertDir("/given", "gateway"); err != nil || dir != "/given" {
		t.Errorf("flag: %q %v", dir, err)
	} else {
		cleanup()
	}
	if dir, cleanup, err := withConfig.CertDir("", "gateway"); err != nil || dir != filepath.Join(cfg, "porthole", "gateway") {
		t.Errorf("config: %q %v", dir, err)
	} else {
		cleanup()
	}
	dir, cleanup, err := (&Factory{}).CertDir("", "node")
	if err != nil || !strings.Contains(filepath.Base(dir), "porthole-node-certs-") {
		t.Fatalf("temporary: %q %v", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temporary directory: %v", err)
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s: %v", dir, err)
	}
}
