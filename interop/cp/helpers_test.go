package cp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/serve"
)

// cpTimeout bounds one porthole cp run.
const cpTimeout = 5 * time.Minute

type result struct {
	code           int
	stdout, stderr string
}

// runCP runs `porthole cp --kubeconfig kubeconfig args...`.
func runCP(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, porthole(t), append([]string{"cp", "--kubeconfig", kubeconfig}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run porthole cp: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("porthole cp %v: timed out; stderr %s", args, errOut.String())
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String()}
}

// mustCP runs porthole cp and fails the test unless it exits 0.
func mustCP(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	r := runCP(t, kubeconfig, args...)
	if r.code != 0 {
		t.Fatalf("porthole cp %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// makeTree writes the tree the copy tests carry: empty files and
// directories, spaces, unicode, several modes, symlinks (one climbing to
// its parent), and a file spanning many frames.
func makeTree(t *testing.T, root string) {
	t.Helper()
	big := make([]byte, 5<<20+3)
	for i := range big {
		big[i] = byte(i*131 + i>>9)
	}
	for _, err := range []error{
		os.MkdirAll(filepath.Join(root, "sub dir", "ünïcødé 目录"), 0o755),
		os.Mkdir(filepath.Join(root, "empty dir"), 0o700),
		os.WriteFile(filepath.Join(root, "empty"), nil, 0o644),
		os.WriteFile(filepath.Join(root, "run me.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755),
		os.WriteFile(filepath.Join(root, "private"), []byte("secret"), 0o600),
		os.WriteFile(filepath.Join(root, "group"), []byte("g"), 0o640),
		os.WriteFile(filepath.Join(root, "sub dir", "ünïcødé 目录", "fïle ✓"), big, 0o644),
		os.Symlink("run me.sh", filepath.Join(root, "link")),
		os.Symlink("../private", filepath.Join(root, "sub dir", "up")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// describe lists a tree as sorted "path mode sha256|-> target" lines.
func describe(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case d.Type().IsRegular():
			line += " " + fileSum(t, p)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readyWriter closes ready on the server's first banner write.
type readyWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

// servePods runs porthole's one-process cluster in this process with pods
// (whose containers are processes on this machine) until the test ends,
// waits until every container runs, and returns its kubeconfig.
func servePods(t *testing.T, pods []*kube.Pod) string {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	ready := &readyWriter{ready: make(chan struct{})}
	srv, err := serve.New(&serve.Options{Listen: "127.0.0.1:0", Pods: pods, KubeconfigPath: kubeconfig, Out: ready})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case <-ready.ready:
	case err := <-done:
		t.Fatalf("serve ended before it was ready: %v", err)
	}
	for _, p := range pods {
		awaitRunning(t, srv.URL(), p.Name)
	}
	return kubeconfig
}

// awaitRunning polls the pod until its container runs: the banner comes
// when the server listens, the processes start on their own time.
func awaitRunning(t *testing.T, server, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(server + "/api/v1/namespaces/default/pods/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var pod kube.Pod
		err = json.NewDecoder(resp.Body).Decode(&pod)
		resp.Body.Close()
		if err == nil && len(pod.Status.ContainerStatuses) > 0 && pod.Status.ContainerStatuses[0].State.Running != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s never ran (last decode error %v)", name, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the pod's state, not ordering events
	}
}

// fakeTarPod is a pod whose PATH starts with bin, where a test puts its own
// `tar`; the real one stays reachable as realtar.
func fakeTarPod(name, bin string, env ...kube.EnvVar) *kube.Pod {
	c := kube.Container{Name: "main", Command: []string{"sleep", "infinity"},
		Env: append([]kube.EnvVar{{Name: "PATH", Value: bin + ":" + os.Getenv("PATH")}}, env...)}
	return &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: name, Namespace: "default"}, Spec: kube.PodSpec{Containers: []kube.Container{c}}}
}
