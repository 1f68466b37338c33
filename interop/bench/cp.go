package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Copier is a cp command line: porthole cp or kubectl cp, run as a child
// process against a node's kubeconfig.
type Copier struct {
	Name string
	// Argv runs "cp" with these before the sources: the binary and its
	// kubeconfig flag.
	Argv []string
	Env  []string
}

// PortholeCopier is `porthole cp --kubeconfig KC`.
func PortholeCopier(bin, kubeconfig string) Copier {
	return Copier{Name: "porthole cp", Argv: []string{bin, "cp", "--kubeconfig", kubeconfig}}
}

// KubectlCopier is `kubectl --kubeconfig KC cp`, with HOME (its cache)
// under home.
func KubectlCopier(bin, kubeconfig, home string) Copier {
	return Copier{Name: "kubectl cp", Argv: []string{bin, "--kubeconfig", kubeconfig, "cp"},
		Env: []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "LANG=C"}}
}

// CopyThroughput copies a file of size bytes into the bench pod (upload)
// or out of it with cp, and returns MB/s over the whole command (start,
// both tar ends and the exit), n's CPU and the cp process's CPU. The pods
// of the bench share this host's filesystem, so the pod side is a path in
// dir. Each copy is checked for its size and removed.
func CopyThroughput(ctx context.Context, n *Node, cp Copier, dir string, size int64, upload bool) (Speed, error) {
	src := filepath.Join(dir, fmt.Sprintf("cp-source-%d", size))
	if fi, err := os.Stat(src); err != nil || fi.Size() != size {
		if err := writeZeros(src, size); err != nil {
			return Speed{}, err
		}
	}
	dst := filepath.Join(dir, "cp-copy")
	_ = os.RemoveAll(dst)
	defer os.RemoveAll(dst)
	from, to := src, podName+":"+dst
	if !upload {
		from, to = podName+":"+src, dst
	}
	cmd := exec.CommandContext(ctx, cp.Argv[0], append(cp.Argv[1:], from, to)...)
	cmd.Env = cp.Env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cpu0, err := n.CPU()
	if err != nil {
		return Speed{}, err
	}
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	cpu1, cpuErr := n.CPU()
	if err != nil {
		return Speed{}, fmt.Errorf("%s %s %s: %w: %s", cp.Name, from, to, err, bytes.TrimSpace(out.Bytes()))
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return Speed{}, fmt.Errorf("%s: %w", cp.Name, err)
	}
	if fi.Size() != size {
		return Speed{}, fmt.Errorf("%s: copied %d bytes, want %d", cp.Name, fi.Size(), size)
	}
	ps := cmd.ProcessState
	return Speed{MBps: float64(size) / elapsed.Seconds() / 1e6, CPU: cpu1 - cpu0,
		ClientCPU: ps.UserTime() + ps.SystemTime()}, cpuErr
}

// writeZeros writes size zero bytes to path (really written: a sparse file
// would let tar skip the reads).
func writeZeros(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		k := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			return errors.Join(err, f.Close())
		}
		left -= k
	}
	return f.Close()
}
