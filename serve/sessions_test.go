package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/selfcert"
)

// lockedBuffer is written by a process and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) await(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("got %q, want %q", l.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKubectlModeratedSession: real kubectl (SPDY before 1.30, WebSocket
// after) runs `exec -i` into a moderated namespace through serve: it is
// told it waits, what it types is held until bob joins as moderator (with
// porthole's client), then reaches the process in order; a kubectl exec
// without stdin is refused with the reason.
func TestKubectlModeratedSession(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	tokens, err := gateway.ParseTokens(strings.NewReader("alice-token,alice,1\nbob-token,bob,2\n"))
	if err != nil {
		t.Fatal(err)
	}
	// kubectl sends a bearer token over HTTPS only.
	certs, err := selfcert.Ensure(filepath.Join(t.TempDir(), "certs"), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := startServer(t, Options{KubeconfigPath: filepath.Join(t.TempDir(), "serve-kubeconfig"),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{certs.Certificate}, MinVersion: tls.VersionTLS12},
		Gateway:   &gateway.Options{Tokens: tokens, ModeratedNamespaces: []string{"default"}}})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	doc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: %q, certificate-authority: %q}}]\n"+
		"users: [{name: alice, user: {token: alice-token}}]\ncontexts: [{name: x, context: {cluster: c, user: alice}}]\ncurrent-context: x\n", s.URL(), certs.CAPath())
	if err := os.WriteFile(kc, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certs.CAPEM)
	bob, err := client.New(&client.Config{Host: s.URL(), TLSClientConfig: &tls.Config{RootCAs: pool},
		TokenSource: func(context.Context) (string, error) { return "bob-token", nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.28", "1.33"} {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			_, errOut, code := k.run(t, "exec", "demo", "--", "true")
			if code != 1 || !strings.Contains(errOut, `sessions in namespace "default" are moderated: run the command interactively (stdin), so that it waits for a moderator`) {
				t.Fatalf("non-interactive exec: exit %d, stderr %q", code, errOut)
			}

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, k.bin, "--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.home, "cache"),
				"exec", "-i", "demo", "--", "cat")
			cmd.Env = []string{"HOME=" + k.home, "PATH=" + os.Getenv("PATH")}
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			out, errOut2 := &lockedBuffer{}, &lockedBuffer{}
			cmd.Stdout, cmd.Stderr = out, errOut2
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			errOut2.await(t, "[porthole] this session is moderated: its input waits for a moderator to join\n")
			io.WriteString(stdin, "held\n")
			var id string
			for id == "" {
				items, err := bob.ListSessions(ctx, "default")
				if err != nil {
					t.Fatal(err)
				}
				if len(items) == 1 && items[0].WaitingForModerator && items[0].User == "alice" {
					id = items[0].ID
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			if got := out.String(); got != "" {
				t.Fatalf("output %q before a moderator joined", got)
			}
			joinIn, joinW := io.Pipe()
			defer joinW.Close()
			joinOut := &lockedBuffer{}
			joined := make(chan error, 1)
			go func() {
				joined <- bob.WatchSession(ctx, &client.WatchSessionOptions{Namespace: "default", ID: id, Join: true, Stdin: joinIn, Stdout: joinOut})
			}()
			out.await(t, "held\n")
			joinOut.await(t, "held\n")
			io.WriteString(joinW, "from bob\n")
			out.await(t, "held\nfrom bob\n")
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("kubectl exec: %v; stderr %q", err, errOut2.String())
			}
			if err := <-joined; err != nil {
				t.Errorf("join: %v", err)
			}
			if got, want := errOut2.String(), "[porthole] this session is moderated: its input waits for a moderator to join\n"+
				"[porthole] bob joined this session (input too)\n[porthole] moderator bob joined: input is open\n"; got != want {
				t.Errorf("kubectl's stderr %q, want %q", got, want)
			}
			if got := joinOut.String(); got != "held\nfrom bob\n" {
				t.Errorf("bob saw %q", got)
			}
		})
	}
}
