// Package readme runs the README's first-run examples as written, against
// `porthole serve` started as `make serve` starts it (no flags; HOME is a
// temporary directory, so the kubeconfig lands where the README says
// without touching the user's), with real kubectl 1.33 as `kubectl` and
// the porthole binary as ./porthole.
package readme

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/porthole/porthole/interop/internal/harness"
)

// blocks returns the README's shell blocks after the "make serve prints"
// paragraph: the kubectl examples, then porthole's.
func blocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "`make serve` prints")
	if i < 0 {
		t.Fatal("README: no first-run section")
	}
	re := regexp.MustCompile("(?s)```sh\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(s[i:], 2) {
		out = append(out, m[1])
	}
	if len(out) != 2 {
		t.Fatalf("README: %d shell blocks after the first-run paragraph, want 2", len(out))
	}
	// The gateway's first run, in front of that serve.
	j := strings.Index(s, "A first run:")
	m := re.FindStringSubmatch(s[max(j, 0):])
	if j < 0 || m == nil {
		t.Fatal("README: no gateway first-run block")
	}
	return append(out, m[1])
}

// bannerComment is a README line showing what a server prints; the script
// waits there until that server answers.
var bannerComment = regexp.MustCompile(`^# gateway listening on (https?://\S+),`)

// script turns a README block into a script that marks each line's output:
// interactive lines (a terminal, an attach that waits for typing) are left
// out and named; make build is the binary the harness built; a curl right
// after a backgrounded port-forward is retried for 10 s (a reader types it
// later).
func script(block string) (string, []string) {
	var b strings.Builder
	var skipped []string
	// The background jobs end with the script (dash has no jobs -p).
	b.WriteString("bg=''\ntrap 'kill $bg 2>/dev/null' EXIT\n")
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		cmd := strings.TrimSpace(line)
		if m := bannerComment.FindStringSubmatch(cmd); m != nil {
			b.WriteString("for i in $(seq 50); do curl -sk " + m[1] + "/readyz >/dev/null && break; sleep 0.2; done\n")
			continue
		}
		if i := strings.Index(cmd, "   #"); i >= 0 {
			cmd = strings.TrimSpace(cmd[:i])
		}
		switch {
		case strings.HasPrefix(cmd, "#"):
			continue
		case strings.Contains(cmd, " -it ") || strings.Contains(cmd, "attach -i"):
			skipped = append(skipped, cmd)
			continue
		case cmd == "make build":
			continue
		}
		b.WriteString("echo '### " + strings.ReplaceAll(cmd, "'", "") + "'\n")
		if strings.HasSuffix(cmd, "&") {
			b.WriteString(cmd + " bg=\"$bg $!\"\n")
			continue
		}
		if strings.HasPrefix(cmd, "curl ") {
			b.WriteString("for i in $(seq 50); do " + cmd + " && break; sleep 0.2; done\n")
			continue
		}
		b.WriteString(cmd + "\n")
	}
	return b.String(), skipped
}

func TestReadmeFirstRun(t *testing.T) {
	var kubectl string
	for _, k := range harness.FindKubectls("") {
		if k.Minor == 33 {
			kubectl = k.Path
		}
	}
	if kubectl == "" {
		harness.MissingPeer(t, "kubectl 1.33 not installed")
	}
	dir := t.TempDir()
	home, bin, work := filepath.Join(dir, "home"), filepath.Join(dir, "bin"), filepath.Join(dir, "work")
	for _, d := range []string{home, bin, work} {
		os.MkdirAll(d, 0o755)
	}
	os.Symlink(kubectl, filepath.Join(bin, "kubectl"))
	porthole, err := harness.BuildPorthole(context.Background(), work)
	if err != nil {
		t.Fatal(err)
	}
	readme, _ := os.ReadFile("../../README.md")
	os.WriteFile(filepath.Join(work, "README.md"), readme, 0o644)
	env := []string{"HOME=" + home, "PATH=" + bin + ":" + os.Getenv("PATH"), "LANG=C"}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	serve := exec.CommandContext(ctx, porthole, "serve") // as make serve runs it
	serve.Env, serve.Dir = env, work
	var serveOut bytes.Buffer
	serve.Stdout, serve.Stderr = &serveOut, &serveOut
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
		if t.Failed() {
			t.Logf("serve:\n%s", serveOut.String())
		}
	}()
	// Ready: the kubeconfig is written, and /readyz answers over HTTPS
	// verified by the authority that kubeconfig carries.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := readyByKubeconfig(filepath.Join(home, ".config", "porthole", "kubeconfig"), "https://127.0.0.1:7443")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready on https://127.0.0.1:7443 with its kubeconfig: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	results := map[string]string{}
	for i, block := range blocks(t) {
		sc, skipped := script(block)
		t.Logf("block %d: left out as interactive: %q", i, skipped)
		cmd := exec.CommandContext(ctx, "sh", "-c", sc)
		cmd.Env, cmd.Dir = env, work
		cmd.WaitDelay = 10 * time.Second // nothing may outlive the script
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("block %d: %v\n%s", i, err, out)
		}
		var cur string
		for _, l := range strings.Split(string(out), "\n") {
			if name, ok := strings.CutPrefix(l, "### "); ok {
				cur = name
				continue
			}
			results[cur] += l + "\n"
		}
	}
	for line, want := range map[string]string{
		"kubectl get pods":                              "Running",
		"kubectl exec demo -- date":                     "UTC",
		"kubectl logs demo -c web":                      "demo web serving on http://127.0.0.1:8080",
		"curl -s localhost:9090":                        "hello from the porthole demo pod (GET /)",
		"./porthole exec demo -- sh -c exit 3; echo $?": "3\n",
		"./porthole port-forward demo :8080 --exec curl -s localhost:$PORTHOLE_PORT":                                             "hello from the porthole demo pod (GET /)",
		"kubectl --kubeconfig ~/.config/porthole/gateway/kubeconfig config set-credentials porthole-gateway --token=alice-token": "User \"porthole-gateway\" set.",
		"kubectl --kubeconfig ~/.config/porthole/gateway/kubeconfig exec demo -- date":                                           "UTC",
	} {
		got, ok := results[line]
		if !ok || !strings.Contains(got, want) {
			t.Errorf("%s: output %q, want it to contain %q", line, got, want)
		}
	}
	if got := results["kubectl get pods"]; !regexp.MustCompile(`demo\s+2/2\s+Running`).MatchString(got) {
		t.Errorf("kubectl get pods: %q, want demo 2/2 Running", got)
	}
	if got := results["./porthole cp README.md demo:/tmp/README.md"]; strings.TrimSpace(got) != "" {
		t.Errorf("cp printed %q", got)
	}
}

// readyByKubeconfig checks that the kubeconfig at path names server and
// that server's /readyz answers 200 through the kubeconfig's TLS and token.
func readyByKubeconfig(path, server string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return err
	}
	if cfg.Host != server || len(cfg.CAData) == 0 || cfg.BearerToken == "" {
		return fmt.Errorf("kubeconfig names %s with %d bytes of CA and token %t; want %s, an authority and a token", cfg.Host, len(cfg.CAData), cfg.BearerToken != "", server)
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(server + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %d", resp.StatusCode)
	}
	return nil
}
