package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/kube/kubeconfig"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestNoKubernetesDeps: the product binary links nothing from k8s.io or
// sigs.k8s.io; only the separate interop module may.
func TestNoKubernetesDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps printed nothing")
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "k8s.io/") || strings.HasPrefix(d, "sigs.k8s.io/") {
			t.Errorf("porthole depends on %s", d)
		}
	}
}

// TestServeSIGTERM: the built binary serves, and exits 0 on SIGTERM after
// a graceful shutdown (what process supervisors and the interop harness
// expect).
func TestServeSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := build(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServe(ctx, t, bin, dir, nil)
	checkKubeconfigReaches(t, s.kubeconfig, s.server)
	checkFlagsReach(t, bin, s.server, s.certDir)
	s.stop(t)
}

// build builds porthole into dir.
func build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "porthole")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// served is a running `porthole serve`.
type served struct {
	cmd                         *exec.Cmd
	stderr                      *strings.Builder
	server, kubeconfig, certDir string
}

// startServe runs bin serve on a loopback port, with its state in dir,
// started with sys, and waits for its banner.
func startServe(ctx context.Context, t *testing.T, bin, dir string, sys *syscall.SysProcAttr) *served {
	t.Helper()
	s := &served{kubeconfig: filepath.Join(dir, "kubeconfig"), certDir: filepath.Join(dir, "certs"), stderr: new(strings.Builder)}
	s.cmd = exec.CommandContext(ctx, bin, "serve", "--listen", "127.0.0.1:0", "--write-kubeconfig", s.kubeconfig, "--cert-dir", s.certDir)
	s.cmd.SysProcAttr = sys
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var banner []string
	for sc.Scan() {
		banner = append(banner, sc.Text())
		if strings.HasPrefix(sc.Text(), "token: ") {
			break
		}
	}
	if len(banner) != 4 || !strings.HasPrefix(banner[0], "porthole serving on https://127.0.0.1:") {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		t.Fatalf("banner %q; stderr %s", banner, s.stderr.String())
	}
	s.server = strings.TrimPrefix(banner[0], "porthole serving on ")
	return s
}

// stop sends SIGTERM and checks that serve exits 0, having written nothing
// to stderr.
func (s *served) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := s.cmd.Wait()
	if err != nil || s.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("exit after SIGTERM: %v (code %d), want 0; stderr %s", err, s.cmd.ProcessState.ExitCode(), s.stderr.String())
	}
	if s.stderr.Len() != 0 {
		t.Errorf("stderr: %s", s.stderr.String())
	}
}

// checkKubeconfigReaches: the kubeconfig serve wrote names server, verifies
// its certificate by the authority it carries, and its token is what lets
// a request in (without it: 401).
func checkKubeconfigReaches(t *testing.T, path, server string) {
	t.Helper()
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: path})
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	if cc.Server != server || len(cc.CAData) == 0 || cc.Token == "" || cc.InsecureSkipTLSVerify {
		t.Fatalf("kubeconfig: server %q (want %q), %d bytes of CA, token %t, insecure %t", cc.Server, server, len(cc.CAData), cc.Token != "", cc.InsecureSkipTLSVerify)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cc.CAData) {
		t.Fatal("kubeconfig: no certificate in certificate-authority-data")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {cc.Token, http.StatusOK}} {
		req, err := http.NewRequest(http.MethodGet, server+"/api/v1/namespaces/default/pods", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET pods over the kubeconfig's TLS: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET pods with token %t: %d, want %d", tc.token != "", resp.StatusCode, tc.want)
		}
	}
}

// checkFlagsReach: with no kubeconfig at all, kubectl's connection flags
// (-s, --token, --certificate-authority or --insecure-skip-tls-verify) are
// enough to exec, with the remote exit code; without the token the server
// refuses, and with neither authority nor insecure the certificate is.
func checkFlagsReach(t *testing.T, bin, server, certDir string) {
	t.Helper()
	tokens, err := os.ReadFile(filepath.Join(certDir, "tokens.csv"))
	if err != nil {
		t.Fatal(err)
	}
	token, _, _ := strings.Cut(string(tokens), ",")
	home := t.TempDir()
	for _, tc := range []struct {
		name     string
		flags    []string
		code     int
		stdout   string
		inStderr string
	}{
		{"token and authority", []string{"--token", token, "--certificate-authority", filepath.Join(certDir, "ca.crt")}, 3, "hi\n", ""},
		{"token, insecure", []string{"--token", token, "--insecure-skip-tls-verify"}, 3, "hi\n", ""},
		{"no token", []string{"--certificate-authority", filepath.Join(certDir, "ca.crt")}, 1, "", "Unauthorized"},
		{"unknown authority", []string{"--token", token}, 1, "", "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"exec", "demo", "-s", server, "--request-timeout", "30s"}, tc.flags...)
			cmd := exec.Command(bin, append(args, "--", "sh", "-c", "echo hi; exit 3")...)
			cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != tc.code || stdout.String() != tc.stdout || !strings.Contains(stderr.String(), tc.inStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, stderr with %q", code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.inStderr)
			}
		})
	}
}
