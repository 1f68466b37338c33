package serve

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShutdownFailsRunningExec: a command still running when the server
// shuts down ends with a failure for the client, never success with its
// output cut short (kubectl over SPDY read a bare close as exit 0). Real
// kubectl over SPDY (1.28) and WebSocket (1.33).
func TestShutdownFailsRunningExec(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	for _, v := range []string{"1.28", "1.33"} {
		t.Run(v, func(t *testing.T) {
			bin := kubectlBin(t, v)
			kc := filepath.Join(t.TempDir(), "kubeconfig")
			s, stop := startServer(t, Options{KubeconfigPath: kc, ShutdownTimeout: 300 * time.Millisecond})
			waitDemo(t, s)
			home := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--kubeconfig", kc, "--cache-dir", filepath.Join(home, "cache"),
				"exec", "demo", "--", "sh", "-c", "i=0; while [ $i -lt 600 ]; do echo line $i; i=$((i+1)); sleep 0.05; done")
			cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
			var errOut strings.Builder
			cmd.Stderr = &errOut
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			lines := 0
			for sc.Scan() {
				lines++
				if lines == 5 {
					go stop()
				}
			}
			err = cmd.Wait()
			if lines >= 600 {
				t.Fatalf("the command finished before the shutdown (%d lines)", lines)
			}
			if cmd.ProcessState.ExitCode() == 0 {
				t.Errorf("kubectl exited 0 after %d of 600 lines; stderr %q", lines, errOut.String())
			}
			if !strings.Contains(errOut.String(), "shutting down") {
				t.Errorf("kubectl's error %q does not say the server shut down (%v)", errOut.String(), err)
			}
		})
	}
}
