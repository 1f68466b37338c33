package cli

import (
	"os"
	"path/filepath"
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
