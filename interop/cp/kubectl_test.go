package cp

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestCopyMatchesKubectl: for the same command line, porthole cp makes the
// same exec requests as kubectl 1.37 cp (the test -d probe, the tar
// commands, the streams asked for, the container picked from the pod),
// recorded by the harness's proxy on the way to the server.
func TestCopyMatchesKubectl(t *testing.T) {
	if len(env.Kubectls) == 0 {
		t.Fatal("no kubectl")
	}
	k := env.Kubectls[len(env.Kubectls)-1]
	dir := t.TempDir()
	file := filepath.Join(dir, "a file")
	if err := os.WriteFile(file, []byte("parity"), 0o644); err != nil {
		t.Fatal(err)
	}
	remoteDir := filepath.Join(dir, "remote dir")
	if err := os.Mkdir(remoteDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pod := harness.PodExec + ":"
	for _, tc := range []struct {
		name string
		args func(local string) []string
	}{
		{"upload-into-dir", func(string) []string { return []string{file, pod + remoteDir} }},
		{"upload-new-name", func(string) []string { return []string{file, pod + filepath.Join(remoteDir, "renamed")} }},
		{"upload-no-preserve", func(string) []string { return []string{"--no-preserve", file, pod + remoteDir} }},
		{"upload-container", func(string) []string { return []string{"-c", "b", file, "two:" + remoteDir} }},
		{"download", func(local string) []string { return []string{pod + filepath.Join(remoteDir, "a file"), local} }},
		{"download-namespace", func(local string) []string {
			return []string{harness.Namespace + "/" + pod + filepath.Join(remoteDir, "a file"), local}
		}},
		{"download-retries", func(local string) []string {
			return []string{"--retries", "2", pod + filepath.Join(remoteDir, "a file"), local}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := env.Server.Proxy.Mark()
			runKubectl(t, k, tc.args(filepath.Join(t.TempDir(), "by-kubectl"))...)
			want := requests(env.Server.Proxy.UpgradesSince(mark))
			// kubectl's first attempt is `tail -c+0`; porthole says +1,
			// "from the first byte" in POSIX terms (GNU tail reads +0 the same).
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "tail+-c%2B0", "tail+-c%2B1")
			}
			mark = env.Server.Proxy.Mark()
			mustCP(t, env.Server.ProxyKubeconfig, tc.args(filepath.Join(t.TempDir(), "by-porthole"))...)
			got := requests(env.Server.Proxy.UpgradesSince(mark))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("porthole cp requests:\n%s\nkubectl cp requests:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if len(want) == 0 {
				t.Error("kubectl made no exec request")
			}
		})
	}
}

// requests renders upgrades as "METHOD upgrade path?sorted-query".
func requests(ups []harness.Upgrade) []string {
	var out []string
	for _, u := range ups {
		ru, err := url.ParseRequestURI(u.RequestURI)
		if err != nil {
			out = append(out, "unparsable "+u.RequestURI)
			continue
		}
		out = append(out, u.Method+" "+u.Upgrade+" "+ru.Path+"?"+ru.Query().Encode())
	}
	return out
}

// runKubectl runs kubectl cp through the recording proxy and fails the
// test unless it exits 0.
func runKubectl(t *testing.T, k harness.Kubectl, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cpTimeout)
	defer cancel()
	cmd := k.Command(ctx, k.Wires()[0], t.TempDir(), env.Server.ProxyKubeconfig, append([]string{"cp"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("kubectl cp: %v", err)
		}
		t.Fatalf("kubectl cp %v: exit %d: %s", args, ee.ExitCode(), out.String())
	}
}
