package serve

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

func logsPod() *kube.Pod {
	sh := func(name, script string) kube.Container {
		return kube.Container{Name: name, Image: "porthole/local", Command: []string{"sh", "-c", script}}
	}
	return &kube.Pod{
		TypeMeta:   kube.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: kube.ObjectMeta{Name: "logs", Namespace: kube.DefaultNamespace},
		Spec: kube.PodSpec{Containers: []kube.Container{
			sh("main", "echo one; echo two; echo three; exec sleep 100000"),
			sh("flaky", "echo run; sleep 0.3; exit 1"),
			sh("ticker", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done"),
		}},
	}
}

// TestKubectlLogs: kubectl logs reads the runtime's kept output as from an
// API server: the container chosen, --tail, --limit-bytes, --timestamps,
// --since and --since-time, --previous after a restart, -f streaming until
// the run ends, and the API server's words for what cannot be read.
func TestKubectlLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	startServer(t, Options{KubeconfigPath: kc, Pods: []*kube.Pod{logsPod()}})
	for _, v := range []string{"1.27", "1.33"} {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			// The flaky container must have run twice for --previous.
			deadline := time.Now().Add(30 * time.Second)
			for {
				out, _, _ := k.run(t, "get", "pod", "logs", "-o", "jsonpath={.status.containerStatuses[1].restartCount} {.status.containerStatuses[0].state.running.startedAt}")
				if f := strings.Fields(out); len(f) == 2 && f[0] != "0" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("flaky never restarted: %q", out)
				}
				time.Sleep(100 * time.Millisecond)
			}
			stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (one|two|three)$`)
			for _, tc := range []struct {
				args    []string
				want    string // exact stdout, unless check is set
				check   func(string) bool
				code    int
				errWant string
			}{
				{args: []string{"-c", "main"}, want: "one\ntwo\nthree\n"},
				{args: []string{"-c", "main", "--tail", "1"}, want: "three\n"},
				{args: []string{"-c", "main", "--tail", "0"}, want: ""},
				{args: []string{"-c", "main", "--limit-bytes", "5"}, want: "one\nt"},
				{args: []string{"-c", "main", "--since", "1h"}, want: "one\ntwo\nthree\n"},
				{args: []string{"-c", "main", "--since-time", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, want: ""},
				{args: []string{"-c", "main", "--timestamps"}, check: func(s string) bool {
					lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
					for _, l := range lines {
						if !stamp.MatchString(l) {
							return false
						}
					}
					return len(lines) == 3
				}},
				{args: []string{"-c", "flaky", "--previous"}, want: "run\n"},
				{args: []string{"-c", "main", "--previous"}, code: 1, errWant: `previous terminated container "main" in pod "logs" not found`},
				{args: []string{"-c", "nope"}, code: 1, errWant: "container nope is not valid for pod logs"},
			} {
				out, errOut, code := k.run(t, append([]string{"logs", "logs"}, tc.args...)...)
				ok := code == tc.code && strings.Contains(errOut, tc.errWant)
				if tc.check != nil {
					ok = ok && tc.check(out)
				} else if tc.code == 0 {
					ok = ok && out == tc.want
				}
				if !ok {
					t.Errorf("logs %v: exit %d, stdout %q, stderr %q; want exit %d, %q, stderr with %q", tc.args, code, out, errOut, tc.code, tc.want, tc.errWant)
				}
			}
			if _, errOut, code := k.run(t, "logs", "nope"); code != 1 || !strings.Contains(errOut, `pods "nope" not found`) {
				t.Errorf("logs of a missing pod: exit %d, %q", code, errOut)
			}

			// -f streams new lines as they come.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, k.bin, "--kubeconfig", kc, "logs", "-f", "logs", "-c", "ticker", "--tail", "1")
			cmd.Env = []string{"HOME=" + k.home, "PATH=" + os.Getenv("PATH")}
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			var got []string
			for len(got) < 4 && sc.Scan() {
				got = append(got, sc.Text())
			}
			cmd.Process.Kill()
			cmd.Wait()
			if len(got) < 4 {
				t.Fatalf("logs -f: %q, want 4 lines as they come", got)
			}
			for i := 1; i < len(got); i++ {
				var a, b int
				if _, err := fmtSscanTick(got[i-1], &a); err != nil {
					t.Fatal(err)
				}
				if _, err := fmtSscanTick(got[i], &b); err != nil {
					t.Fatal(err)
				}
				if b != a+1 {
					t.Errorf("logs -f: %q, want consecutive ticks", got)
				}
			}

			// -f ends by itself when the container's run ends.
			done := make(chan error, 1)
			fcmd := exec.CommandContext(ctx, k.bin, "--kubeconfig", kc, "logs", "-f", "logs", "-c", "flaky")
			fcmd.Env = cmd.Env
			go func() { done <- fcmd.Run() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("logs -f of a run that ends: %v", err)
				}
			case <-ctx.Done():
				t.Error("logs -f did not end with the container's run")
			}
		})
	}
}

// fmtSscanTick reads the number of a "tick N" line.
func fmtSscanTick(s string, n *int) (int, error) {
	var word string
	return fmt.Sscan(s, &word, n)
}
