package serve

import (
	"os"
	"path/filepath"
	"testing"
)

// defaultKubectlDir holds the machine's packaged kubectl release binaries
// (kubectl.1.27 ...) and the dispatcher (kubectl) that picks one by server
// version.
const defaultKubectlDir = "/usr/lib/google-cloud-sdk/bin"

var kubectlVersions = []string{"1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"}

// kubectlBin returns the real kubectl release binary for version v
// ("1.27"): from $PORTHOLE_KUBECTL_DIR when set (.ci/run builds missing
// releases there), else from the machine's packaging. A missing binary
// skips the test, or fails it under PORTHOLE_PEERS=require, so that a CI
// machine without a peer cannot pass by skipping it.
func kubectlBin(t *testing.T, v string) string {
	t.Helper()
	var tried []string
	for _, dir := range []string{os.Getenv("PORTHOLE_KUBECTL_DIR"), defaultKubectlDir} {
		if dir == "" {
			continue
		}
		bin := filepath.Join(dir, "kubectl."+v)
		if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
			return bin
		}
		tried = append(tried, bin)
	}
	missingPeer(t, "no kubectl %s (looked for %v)", v, tried)
	return ""
}

// missingPeer skips t, or fails it when PORTHOLE_PEERS=require.
func missingPeer(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("PORTHOLE_PEERS") == "require" {
		t.Fatalf("PORTHOLE_PEERS=require: "+format, args...)
	}
	t.Skipf(format, args...)
}
