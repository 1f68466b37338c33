package harness

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kubectl is one kubectl binary of a known minor version.
type Kubectl struct {
	Minor int // 27 for kubectl 1.27
	Path  string
}

// Name is "kubectl-1.27".
func (k Kubectl) Name() string { return fmt.Sprintf("kubectl-1.%d", k.Minor) }

// Wire is one way a kubectl version streams, chosen by environment.
type Wire struct {
	Name      string // "websocket" or "spdy"
	WebSocket bool
	Env       []string
}

const wsEnv = "KUBECTL_REMOTE_COMMAND_WEBSOCKETS"

// Wires returns the wires a kubectl version speaks and how to select each:
// 1.27/1.28 SPDY only; 1.29/1.30 WebSocket when the gate variable is
// "true" (1.29 default off); 1.31+ WebSocket by default and SPDY with the
// variable set to "false".
func (k Kubectl) Wires() []Wire {
	ws := func(env ...string) Wire { return Wire{Name: "websocket", WebSocket: true, Env: env} }
	spdy := func(env ...string) Wire { return Wire{Name: "spdy", Env: env} }
	switch {
	case k.Minor <= 28:
		return []Wire{spdy()}
	case k.Minor <= 30:
		return []Wire{ws(wsEnv + "=true")}
	default:
		return []Wire{ws(), spdy(wsEnv + "=false")}
	}
}

const pfEnv = "KUBECTL_PORT_FORWARD_WEBSOCKETS"

// PortForwardWires returns the wires kubectl port-forward speaks: SPDY
// (portforward.k8s.io) up to 1.29; from 1.30 the WebSocket tunnel
// (SPDY/3.1+portforward.k8s.io), opt-in with the variable "true" in 1.30
// and default from 1.31, where "false" selects plain SPDY.
func (k Kubectl) PortForwardWires() []Wire {
	ws := func(env ...string) Wire { return Wire{Name: "websocket", WebSocket: true, Env: env} }
	spdy := func(env ...string) Wire { return Wire{Name: "spdy", Env: env} }
	switch {
	case k.Minor <= 29:
		return []Wire{spdy()}
	case k.Minor == 30:
		return []Wire{ws(pfEnv + "=true"), spdy()}
	default:
		return []Wire{ws(), spdy(pfEnv + "=false")}
	}
}

var kubectlName = regexp.MustCompile(`/kubectl\.1\.(\d+)$`)

// FindKubectls lists the versioned kubectl binaries (kubectl.1.27 ...
// kubectl.1.33): first in $PORTHOLE_KUBECTL_DIR (where .ci/build-kubectl
// puts releases it built), then those of the Debian/Google Cloud SDK
// "kubectl" package, found with `dpkg -L kubectl` and in
// /usr/lib/google-cloud-sdk/bin; then appends kubectl137 (built by
// BuildKubectl137). Sorted by version.
func FindKubectls(kubectl137 string) []Kubectl {
	var paths []string
	if dir := os.Getenv("PORTHOLE_KUBECTL_DIR"); dir != "" {
		g, _ := filepath.Glob(filepath.Join(dir, "kubectl.1.*"))
		paths = append(paths, g...)
	}
	if out, err := exec.Command("dpkg", "-L", "kubectl").Output(); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			paths = append(paths, strings.TrimSpace(sc.Text()))
		}
	}
	if g, _ := filepath.Glob("/usr/lib/google-cloud-sdk/bin/kubectl.1.*"); len(g) > 0 {
		paths = append(paths, g...)
	}
	seen := map[int]bool{}
	var ks []Kubectl
	for _, p := range paths {
		m := kubectlName.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		minor, _ := strconv.Atoi(m[1])
		if seen[minor] {
			continue
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			continue
		}
		seen[minor] = true
		ks = append(ks, Kubectl{Minor: minor, Path: p})
	}
	ks = append(ks, Kubectl{Minor: 37, Path: kubectl137})
	slices.SortFunc(ks, func(a, b Kubectl) int { return a.Minor - b.Minor })
	return ks
}

// Command returns kubectl args as an *exec.Cmd bound to ctx with a clean
// environment: HOME and KUBECACHEDIR under home (no discovery cache shared
// between versions or runs), KUBECONFIG set, the wire's variables applied
// and any inherited KUBECTL_* variable removed.
func (k Kubectl) Command(ctx context.Context, w Wire, home, kubeconfig string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.Path, args...)
	env := []string{
		"HOME=" + home,
		"KUBECACHEDIR=" + filepath.Join(home, "cache"),
		"KUBECONFIG=" + kubeconfig,
		"PATH=" + os.Getenv("PATH"),
		"LANG=C",
	}
	if term := os.Getenv("TERM"); term != "" {
		env = append(env, "TERM="+term)
	}
	cmd.Env = append(env, w.Env...)
	// A kubectl killed by ctx must not keep the test waiting on pipes held
	// by grandchildren (there are none, but the bound is cheap).
	cmd.WaitDelay = 10 * time.Second
	return cmd
}
