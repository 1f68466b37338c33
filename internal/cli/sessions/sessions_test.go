package sessions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/goleak"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const tokens = `alice-token,alice,1,devs
bob-token,bob,2,devs
carol-token,carol,3,devs
mod-token,mod,4,devs
`

const rbac = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: exec}
rules:
- {apiGroups: [""], resources: [pods/exec], verbs: [get, create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: devs-exec}
subjects: [{kind: Group, name: devs}]
roleRef: {kind: ClusterRole, name: exec}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: watcher}
rules:
- {apiGroups: [porthole.dev], resources: [sessions], verbs: [list, watch, join]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-watches}
subjects: [{kind: User, name: bob}]
roleRef: {kind: ClusterRole, name: watcher}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: moderator}
rules:
- {apiGroups: [porthole.dev], resources: [sessions], verbs: [list, moderate]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: mod-moderates}
subjects: [{kind: User, name: mod}]
roleRef: {kind: ClusterRole, name: moderator}
`

// startGateway serves a joinable-sessions gateway with RBAC in front of a
// node with pod default/p, and returns its URL.
func startGateway(t *testing.T) string {
	t.Helper()
	node := streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, nil).URL
	toks, err := gateway.ParseTokens(strings.NewReader(tokens))
	if err != nil {
		t.Fatal(err)
	}
	authz := gateway.NewRBAC()
	if err := authz.Load(strings.NewReader(rbac)); err != nil {
		t.Fatal(err)
	}
	up, _ := url.Parse(node)
	g, err := gateway.New(&gateway.Options{Upstream: up, Tokens: toks, Authorizer: authz, JoinableSessions: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
		srv.Close()
	})
	return srv.URL
}

// kubeconfig writes a kubeconfig for server and token in a test directory.
func kubeconfig(t *testing.T, server, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	doc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q}
users:
- name: u
  user: {token: %q}
contexts:
- name: x
  context: {cluster: c, user: u, namespace: default}
current-context: x
`, server, token)
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is written by a command and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) await(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("output %q, want %q", s.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run runs `porthole sessions args...` with stdin, and returns its output
// and error once it ends.
func run(ctx context.Context, stdin io.Reader, stdout io.Writer, args ...string) (string, error) {
	ios, _, _, errOut := iostreams.Test()
	if stdin != nil {
		ios.In = io.NopCloser(stdin)
	}
	if stdout != nil {
		ios.Out = stdout
	}
	f := &cli.Factory{IOStreams: ios}
	root := &cobra.Command{Use: "porthole", SilenceErrors: true, SilenceUsage: true}
	cli.AddGlobalFlags(root.PersistentFlags())
	root.AddCommand(NewCmd(f, nil))
	root.SetArgs(append([]string{"sessions"}, args...))
	err := root.ExecuteContext(ctx)
	return errOut.String(), err
}

// TestWatchJoinEnd: alice's session, listed by bob, watched and joined by
// him with the CLI, refused to carol, and another ended by its moderator.
func TestWatchJoinEnd(t *testing.T) {
	gw := startGateway(t)
	t.Setenv("KUBECONFIG", "")
	bob, carol, mod := kubeconfig(t, gw, "bob-token"), kubeconfig(t, gw, "carol-token"), kubeconfig(t, gw, "mod-token")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice, err := client.New(&client.Config{Host: gw, TokenSource: func(context.Context) (string, error) { return "alice-token", nil }})
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- alice.Exec(ctx, &client.ExecOptions{Namespace: "default", Pod: "p", Command: []string{"sh", "-c", "echo ready; exec cat"},
			StreamOptions: client.StreamOptions{Stdin: inR, Stdout: out, Stderr: io.Discard}})
	}()
	out.await(t, "ready\n")

	var list bytes.Buffer
	if _, err := run(ctx, nil, &list, "-A", "--kubeconfig", bob); err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^NAMESPACE +ID +USER +POD +COMMAND +AGE +WIRE +WATCHERS\ndefault +(\S+) +alice +p +sh -c echo ready; exec cat +\d+s +websocket +<none>\n$`)
	m := row.FindStringSubmatch(list.String())
	if m == nil {
		t.Fatalf("list:\n%s", list.String())
	}
	id := m[1]

	// bob watches from the snapshot on.
	watchOut := &syncBuffer{}
	watchDone := make(chan error, 1)
	go func() {
		_, err := run(ctx, nil, watchOut, "watch", id, "--kubeconfig", bob)
		watchDone <- err
	}()
	watchOut.await(t, "ready\n")
	io.WriteString(inW, "one\n")
	out.await(t, "ready\none\n")
	watchOut.await(t, "ready\none\n")

	// bob joins and types.
	joinIn, joinW := io.Pipe()
	joinOut := &syncBuffer{}
	joinDone := make(chan error, 1)
	go func() {
		errOut, err := run(ctx, joinIn, joinOut, "join", id, "--kubeconfig", bob)
		if err == nil && errOut != "\r\nleft session "+id+"\r\n" {
			err = fmt.Errorf("join's stderr %q", errOut)
		}
		joinDone <- err
	}()
	joinOut.await(t, "ready\none\n")
	list.Reset()
	if _, err := run(ctx, nil, &list, "--kubeconfig", bob); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + ` +alice +p +.* +bob,bob\(join\)\n$`).MatchString(list.String()) {
		t.Errorf("list with watchers:\n%s", list.String())
	}
	io.WriteString(joinW, "two\n")
	out.await(t, "ready\none\ntwo\n")
	watchOut.await(t, "ready\none\ntwo\n")
	joinOut.await(t, "ready\none\ntwo\n")
	joinW.Close() // end of stdin: bob leaves, the session goes on
	if err := <-joinDone; err != nil {
		t.Errorf("join: %v", err)
	}

	// carol may not.
	for _, args := range [][]string{{"-A"}, {"watch", id}, {"join", id}} {
		_, err := run(ctx, strings.NewReader(""), io.Discard, append(args, "--kubeconfig", carol)...)
		var ae *client.APIError
		var ue *client.UpgradeError
		if !errors.As(err, &ae) && !errors.As(err, &ue) || !strings.Contains(err.Error(), `User "carol" cannot`) {
			t.Errorf("carol's %v: %v", args, err)
		}
	}

	// alice ends her stdin: the session ends, and bob's watch with it.
	io.WriteString(inW, "three\n")
	out.await(t, "ready\none\ntwo\nthree\n")
	inW.Close()
	if err := <-done; err != nil {
		t.Fatalf("alice's exec: %v", err)
	}
	if err := <-watchDone; err != nil {
		t.Errorf("watch: %v", err)
	}
	if got := watchOut.String(); got != "ready\none\ntwo\nthree\n" {
		t.Errorf("watched %q", got)
	}

	// The moderator ends a session.
	go func() {
		done <- alice.Exec(ctx, &client.ExecOptions{Namespace: "default", Pod: "p", Command: []string{"sleep", "600"},
			StreamOptions: client.StreamOptions{Stdin: strings.NewReader(""), Stdout: io.Discard}})
	}()
	var items []protocol.SessionInfo
	for len(items) == 0 {
		if items, err = alice.ListSessions(ctx, ""); err == nil {
			t.Fatal("alice listed sessions without the verb")
		}
		mc, _ := client.New(&client.Config{Host: gw, TokenSource: func(context.Context) (string, error) { return "mod-token", nil }})
		if items, err = mc.ListSessions(ctx, "default"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var endOut bytes.Buffer
	if _, err := run(ctx, nil, &endOut, "end", items[0].ID, "--kubeconfig", mod); err != nil || endOut.String() != "session "+items[0].ID+" ended\n" {
		t.Fatalf("end: %q %v", endOut.String(), err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "the gateway ended the session: ended by moderator mod") {
		t.Errorf("alice's ended exec: %v", err)
	}
}
