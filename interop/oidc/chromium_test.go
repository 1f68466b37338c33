package oidc

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestChromiumSignIn: Debian's Chromium signs in to the web terminal at
// porthole gateway through the provider's login page (web/test/sso.mjs),
// runs a command in a terminal on the session cookie alone, and signs out.
// The gateway is reached as localhost and the provider as 127.0.0.1: two
// sites, so the cookies' SameSite rules are those of a real deployment.
func TestChromiumSignIn(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		harness.MissingPeer(t, "node: %v", err)
		return
	}
	chromium := os.Getenv("PORTHOLE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		harness.MissingPeer(t, "chromium: %v", err)
		return
	}
	_, repo, err := harness.Roots()
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(repo, "web")
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core")); err != nil {
		harness.MissingPeer(t, "playwright-core (npm ci in web/): %v", err)
		return
	}
	gw := strings.Replace(env.gateway.URL, "127.0.0.1", "localhost", 1)
	env.idp.client(clientID).addRedirect(gw + "/oidc/callback")
	alice := user("alice")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "test/sso.mjs", "--url", gw+"/ui/", "--user", alice.Username, "--password", alice.Password,
		"--who", "signed in as "+env.targets[0].UserName(alice), "--chromium", chromium, "--artifacts", t.TempDir())
	cmd.Dir = web
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = harness.OwnGroup()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	t.Logf("node test/sso.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("sso.mjs: %v", err)
	}
}
