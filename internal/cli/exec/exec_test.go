package exec

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/cli/clitest"
	"github.com/porthole/porthole/internal/freezer"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/kubeconfig"
	"github.com/porthole/porthole/serve"

	"github.com/porthole/porthole/internal/cli/kubeflags"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// parent gives cmd the root's persistent flags, as the real tree does.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    string
		want    Options
		kube    kubeflags.KubeFlags
		wantErr string
	}{
		{name: "simple", args: "exec p -- ls -l", want: Options{Pod: "p", Command: []string{"ls", "-l"}}, kube: kubeflags.KubeFlags{Protocol: "auto", RequestTimeout: "0"}},
		{name: "all flags", args: "exec -it -c c -n ns --context x --kubeconfig k --protocol spdy -q pod/p -- sh",
			want: Options{Pod: "p", Command: []string{"sh"}, Container: "c", Stdin: true, TTY: true, Quiet: true},
			kube: kubeflags.KubeFlags{Namespace: "ns", Context: "x", Kubeconfig: "k", Protocol: "spdy", RequestTimeout: "0"}},
		{name: "connection flags", args: "exec -s https://h:1 --cluster c --user u --token t --username n --password pw --as a --as-uid 7 --as-group g1 --as-group g2 " +
			"--certificate-authority ca --client-certificate cc --client-key ck --insecure-skip-tls-verify --tls-server-name sn --request-timeout 5s p -- true",
			want: Options{Pod: "p", Command: []string{"true"}},
			kube: kubeflags.KubeFlags{Server: "https://h:1", Protocol: "auto", RequestTimeout: "5s", Overrides: kubeconfig.Overrides{Cluster: "c", User: "u", Token: "t",
				Username: "n", Password: "pw", Impersonate: "a", ImpersonateUID: "7", ImpersonateGroups: []string{"g1", "g2"},
				CertificateAuthority: "ca", ClientCertificate: "cc", ClientKey: "ck", InsecureSkipTLSVerify: true, TLSServerName: "sn"}}},
		{name: "verbosity", args: "exec -v=6 p -- true", want: Options{Pod: "p", Command: []string{"true"}, Verbosity: 6}, kube: kubeflags.KubeFlags{Protocol: "auto", RequestTimeout: "0"}},
		{name: "no dash", args: "exec p ls", wantErr: "exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead"},
		{name: "no pod", args: "exec", wantErr: "pod or type/name must be specified"},
		{name: "no command", args: "exec p", wantErr: "you must specify at least one command for the container"},
		{name: "not a pod", args: "exec cm/x -- ls", wantErr: `"cm/x" names no pods: give a pod, service, deployment, replica set or stateful set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cli.Factory{IOStreams: ios}
			var got *Options
			root := clitest.Root(NewCmd(f, func(_ context.Context, o *Options) error { got = o; return nil }))
			root.SetArgs(strings.Fields(tc.args))
			err := root.Execute()
			if tc.wantErr != "" {
				var fe *cli.FlagError
				if err == nil || err.Error() != tc.wantErr || !errors.As(err, &fe) {
					t.Fatalf("got %v, want usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Pod != tc.want.Pod || fmt.Sprint(got.Command) != fmt.Sprint(tc.want.Command) || got.Container != tc.want.Container ||
				got.Stdin != tc.want.Stdin || got.TTY != tc.want.TTY || got.Quiet != tc.want.Quiet || got.Verbosity != tc.want.Verbosity {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(*got.Kube, tc.kube) {
				t.Errorf("kube flags %+v, want %+v", *got.Kube, tc.kube)
			}
		})
	}
}

func TestWireEnv(t *testing.T) {
	for _, tc := range []struct {
		env, flag string
		want      client.Wire
	}{
		{"", "auto", client.WireAuto},
		{"FALSE", "auto", client.WireSPDY},
		{"false", "auto", client.WireSPDY},
		{"0", "auto", client.WireAuto},
		{"no", "auto", client.WireAuto},
		{"false", "websocket", client.WireWebSocket},
	} {
		t.Setenv(kubeflags.RemoteCommandWebSocketsEnv, tc.env)
		k := &kubeflags.KubeFlags{Protocol: tc.flag}
		if got, err := k.Wire(); err != nil || got != tc.want {
			t.Errorf("env %q flag %q: got %q, %v; want %q", tc.env, tc.flag, got, err, tc.want)
		}
	}
}

// startServe runs porthole's one-process cluster with testPods and returns
// the kubeconfig it wrote.
func startServe(t *testing.T) string {
	t.Helper()
	return startServeWith(t, nil)
}

// startServeWith is startServe with the gateway's options.
func startServeWith(t *testing.T, gw *gateway.Options) string {
	t.Helper()
	sleep := []string{"sleep", "100000"}
	pods := []*kube.Pod{
		{ObjectMeta: kube.ObjectMeta{Name: "solo", Namespace: "default"},
			Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c", Command: sleep}}}},
		{ObjectMeta: kube.ObjectMeta{Name: "two", Namespace: "default"},
			Spec: kube.PodSpec{Containers: []kube.Container{{Name: "a", Command: sleep}, {Name: "b", Command: sleep}}}},
		{ObjectMeta: kube.ObjectMeta{Name: "annotated", Namespace: "default",
			Annotations: map[string]string{kubeflags.DefaultContainerAnnotation: "b"}},
			Spec: kube.PodSpec{Containers: []kube.Container{{Name: "a", Command: sleep}, {Name: "b", Command: sleep}}}},
		{ObjectMeta: kube.ObjectMeta{Name: "done", Namespace: "default"},
			Spec: kube.PodSpec{RestartPolicy: "Never", Containers: []kube.Container{{Name: "c", Command: []string{"true"}}}}},
	}
	kc := clitest.Serve(t, serve.Options{Pods: pods, Gateway: gw})
	awaitPhases(t, kc, map[string]string{"solo": "Running", "two": "Running", "annotated": "Running", "done": "Succeeded"})
	return kc
}

// awaitPhases polls the API until each pod has its phase and all its
// containers run (or, for a finished pod, have finished).
func awaitPhases(t *testing.T, kc string, phases map[string]string) {
	t.Helper()
	c := clitest.Client(t, kc)
	deadline := time.Now().Add(30 * time.Second)
	for name, phase := range phases {
		for {
			pod, err := c.GetPod(context.Background(), "default", name)
			if err != nil {
				t.Fatal(err)
			}
			running := 0
			for _, s := range pod.Status.ContainerStatuses {
				if s.State.Running != nil {
					running++
				}
			}
			if pod.Status.Phase == phase && (phase != "Running" || running == len(pod.Spec.Containers)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s: phase %q, want %q", name, pod.Status.Phase, phase)
			}
			time.Sleep(20 * time.Millisecond) // polling the server's state, not ordering events
		}
	}
}

func TestRun(t *testing.T) {
	kc := startServe(t)
	t.Setenv("KUBECONFIG", "")
	for _, tc := range []struct {
		name       string
		args       string
		stdin      string
		wantOut    string
		wantErrOut string
		wantExit   int
		wantErr    string
	}{
		{name: "echo", args: "solo -- sh -c 'echo out; echo err >&2'", wantOut: "out\n", wantErrOut: "err\n"},
		{name: "exit code", args: "solo -- sh -c 'exit 42'", wantExit: 42, wantErrOut: "command terminated with exit code 42\n"},
		{name: "exit code quiet", args: "-q solo -- sh -c 'exit 7'", wantExit: 7},
		{name: "stdin", args: "-i solo -- cat", stdin: "abc\n", wantOut: "abc\n"},
		{name: "tty on a pipe", args: "-i -t solo -- cat", stdin: "x", wantOut: "x",
			wantErrOut: "Unable to use a TTY - input is not a terminal or the right kind of file\n"},
		{name: "spdy", args: "--protocol spdy pod/solo -- echo spdy", wantOut: "spdy\n"},
		{name: "defaulted container", args: "two -- sh -c 'echo $HOSTNAME'", wantOut: "two\n",
			wantErrOut: "Defaulted container \"a\" out of: a, b\n"},
		{name: "annotated default", args: "annotated -- true"},
		{name: "bad container", args: "two -c zz -- true", wantErr: "container zz is not valid for pod two out of: a, b"},
		{name: "completed", args: "done -- true", wantErr: "cannot exec into a container in a completed pod; current phase is Succeeded"},
		{name: "not found", args: "nope -- true", wantErr: `pods "nope" not found`},
		{name: "bad context", args: "--context zz solo -- true", wantErr: `context "zz" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, in, out, errOut := iostreams.Test()
			in.WriteString(tc.stdin)
			f := &cli.Factory{IOStreams: ios}
			root := clitest.Root(NewCmd(f, nil))
			args := append([]string{"exec", "--kubeconfig", kc}, shellFields(tc.args)...)
			root.SetArgs(args)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err := root.ExecuteContext(ctx)
			var ee *client.ExitError
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %v, want %q", err, tc.wantErr)
				}
			case tc.wantExit != 0:
				if !errors.As(err, &ee) || ee.Code != tc.wantExit {
					t.Errorf("got %v, want exit %d", err, tc.wantExit)
				}
			case err != nil:
				t.Errorf("got %v", err)
			}
			if tc.wantErr == "" && (out.String() != tc.wantOut || errOut.String() != tc.wantErrOut) {
				t.Errorf("stdout %q stderr %q, want %q %q", out, errOut, tc.wantOut, tc.wantErrOut)
			}
		})
	}
}

// cutAfter passes writes to w and, once more than n bytes went through,
// cuts the relay's connections (stall, then reset) inside that Write.
type cutAfter struct {
	w     io.Writer
	n     int
	relay *freezer.Relay
	cuts  int
}

func (c *cutAfter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n -= n
	if c.cuts == 0 && c.n < 0 {
		c.cuts++
		c.relay.Cut(300 * time.Millisecond)
	}
	return n, err
}

// TestRunResumes: porthole exec through serve's gateway, its connection
// cut mid-output (stalled, then reset) by a relay, resumes by itself with a
// one-line notice each way; every byte arrives once and the exit code is
// the command's.
func TestRunResumes(t *testing.T) {
	kc := startServeWith(t, &gateway.Options{SessionResumeGrace: time.Minute})
	t.Setenv("KUBECONFIG", "")
	b, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`server: https?://([0-9.]+:[0-9]+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no server in the kubeconfig:\n%s", b)
	}
	relay := freezer.New(t, string(m[1]))
	cut := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(cut, bytes.ReplaceAll(b, m[1], []byte(relay.Addr())), 0o600); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 8<<20)
	rand.Read(data)
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	w := &cutAfter{w: &out, n: 2 << 20, relay: relay}
	f := &cli.Factory{IOStreams: &iostreams.IOStreams{In: strings.NewReader(""), Out: w, ErrOut: &errOut}}
	root := clitest.Root(NewCmd(f, nil))
	root.SetArgs([]string{"exec", "--kubeconfig", cut, "solo", "--", "sh", "-c", "cat " + file + "; exit 3"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	var ee *client.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("got %v, want exit 3 (stderr %q)", err, errOut.String())
	}
	if w.cuts != 1 || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("cuts %d; stdout %d bytes, want the %d of the file, equal %v", w.cuts, out.Len(), len(data), bytes.Equal(out.Bytes(), data))
	}
	if want := "connection lost, resuming session...\nresumed\ncommand terminated with exit code 3\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
}

// shellFields splits like a shell, with single quotes only.
func shellFields(s string) []string {
	var out []string
	var cur bytes.Buffer
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				out = append(out, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

func TestCompletePods(t *testing.T) {
	kc := startServe(t)
	ios, _, out, _ := iostreams.Test()
	root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, nil))
	root.SetOut(out)
	root.SetArgs([]string{"__complete", "exec", "--kubeconfig", kc, "t"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "two\n:4\n") {
		t.Errorf("completion %q, want the pod two and no file completion", got)
	}
}
