package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Kubectl137Version is the version stamped into the kubectl137 binary; it
// matches the k8s.io/kubectl module it is built from.
const Kubectl137Version = "v1.37.2"

// Roots returns the interop module directory and the product repository
// root (its parent), found by walking up from the working directory to the
// go.mod that declares the interop module. Tests run with the package
// directory as working directory, so this works from any package.
func Roots() (interop, repo string, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", fmt.Errorf("getwd: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/porthole/porthole/interop\n")) {
			return dir, filepath.Dir(dir), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", errors.New("interop go.mod not found above the working directory")
		}
		dir = parent
	}
}

// BuildPorthole builds ./cmd/porthole of the product repository into dir
// and returns the binary's path. The shared GOCACHE keeps repeat runs fast.
func BuildPorthole(ctx context.Context, dir string) (string, error) {
	_, repo, err := Roots()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "porthole")
	if err := goBuild(ctx, repo, out, "./cmd/porthole"); err != nil {
		return "", fmt.Errorf("build porthole: %w", err)
	}
	return out, nil
}

// TargetEnv names the environment variable that selects the server under
// test. Unset or "porthole": the product. "reference": interop/cmd/refserve,
// the same command line served by the real Kubernetes libraries, used to
// check that the harness and the tests pass against known-good peers.
const TargetEnv = "INTEROP_TARGET"

// BuildTarget builds the server binary TargetEnv selects into dir.
func BuildTarget(ctx context.Context, dir string) (string, error) {
	switch t := os.Getenv(TargetEnv); t {
	case "", "porthole":
		return BuildPorthole(ctx, dir)
	case "reference":
		interop, _, err := Roots()
		if err != nil {
			return "", err
		}
		out := filepath.Join(dir, "refserve")
		if err := goBuild(ctx, interop, out, "./cmd/refserve"); err != nil {
			return "", fmt.Errorf("build refserve: %w", err)
		}
		return out, nil
	default:
		return "", fmt.Errorf("%s=%q: want porthole or reference", TargetEnv, t)
	}
}

// BuildKubectl137 builds interop/cmd/kubectl137 into dir, stamped with
// Kubectl137Version, and returns the binary's path.
func BuildKubectl137(ctx context.Context, dir string) (string, error) {
	interop, _, err := Roots()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "kubectl137")
	ld := "-ldflags=-X k8s.io/component-base/version.gitVersion=" + Kubectl137Version +
		" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
	if err := goBuild(ctx, interop, out, ld, "./cmd/kubectl137"); err != nil {
		return "", fmt.Errorf("build kubectl137: %w", err)
	}
	return out, nil
}

func goBuild(ctx context.Context, dir, out string, args ...string) error {
	argv := append([]string{"build", "-o", out}, args...)
	cmd := exec.CommandContext(ctx, "go", argv...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s in %s: %w\n%s", strings.Join(argv, " "), dir, err, stderr.String())
	}
	return nil
}
