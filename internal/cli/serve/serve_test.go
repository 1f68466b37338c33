package serve

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/goleak"

	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/cli/clitest"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/serve"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testFactory(t *testing.T) (*cli.Factory, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	ios, in, out, errOut := iostreams.Test()
	dir := t.TempDir()
	return &cli.Factory{IOStreams: ios, ConfigDir: func() (string, error) { return dir, nil }}, in, out, errOut
}

// parent gives cmd the root's persistent flags, as the real tree does.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want Options // IO and Factory are not compared
		err  string
	}{
		{name: "defaults", args: nil, want: Options{Listen: serve.DefaultListen, Kubeconfig: "CONFIG/porthole/kubeconfig"}},
		{name: "listen", args: []string{"--listen", "127.0.0.1:0"}, want: Options{Listen: "127.0.0.1:0", Kubeconfig: "CONFIG/porthole/kubeconfig"}},
		{name: "files", args: []string{"-f", "a.yaml", "--filename", "b.json", "-f", "-"},
			want: Options{Listen: serve.DefaultListen, Filenames: []string{"a.yaml", "b.json", "-"}, Kubeconfig: "CONFIG/porthole/kubeconfig"}},
		{name: "kubeconfig", args: []string{"--write-kubeconfig", "/tmp/kc"}, want: Options{Listen: serve.DefaultListen, Kubeconfig: "/tmp/kc"}},
		{name: "no-kubeconfig", args: []string{"--write-kubeconfig="}, want: Options{Listen: serve.DefaultListen}},
		{name: "verbosity", args: []string{"-v", "4"}, want: Options{Listen: serve.DefaultListen, Kubeconfig: "CONFIG/porthole/kubeconfig", Verbosity: 4}},
		{name: "verbosity-long", args: []string{"--v=2"}, want: Options{Listen: serve.DefaultListen, Kubeconfig: "CONFIG/porthole/kubeconfig", Verbosity: 2}},
		{name: "argument", args: []string{"pods.yaml"}, err: `unexpected argument "pods.yaml": manifests are given with -f`},
		{name: "unknown-flag", args: []string{"--nope"}, err: "unknown flag: --nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _, _, _ := testFactory(t)
			dir, _ := f.ConfigDir()
			var got *Options
			cmd := NewCmd(f, func(_ context.Context, o *Options) error { got = o; return nil })
			root := clitest.Root(cmd)
			root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.FlagError{Err: err} })
			root.SetArgs(append([]string{"serve"}, tc.args...))
			root.SetOut(new(bytes.Buffer))
			root.SetErr(new(bytes.Buffer))
			err := root.Execute()
			if tc.err != "" {
				var fe *cli.FlagError
				if err == nil || err.Error() != tc.err || !errors.As(err, &fe) {
					t.Fatalf("got error %v, want FlagError %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Kubeconfig = strings.Replace(tc.want.Kubeconfig, "CONFIG", dir, 1)
			if got.Listen != tc.want.Listen || !slices.Equal(got.Filenames, tc.want.Filenames) ||
				got.Kubeconfig != tc.want.Kubeconfig || got.Verbosity != tc.want.Verbosity {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
			if got.IO != f.IOStreams {
				t.Error("options do not carry the factory's streams")
			}
		})
	}
}

// cancelOnWrite is stdout that cancels the run once the banner is out, so
// the test runs the server start to finish without timing.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), "try: ") {
		w.cancel()
	}
	return n, err
}

func (w *cancelOnWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

const manifest = `apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  containers: [{name: main, command: [sleep, "1000"]}]
`

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		files   map[string]string
		stdin   string
		pod     string // the pod the banner's example names
		wantErr string // "" for a clean start and shutdown
	}{
		{name: "demo", args: []string{"--listen", "127.0.0.1:0"}, pod: "demo"},
		{name: "demo-plain-http", args: []string{"--listen", "127.0.0.1:0", "--plain-http"}, pod: "demo"},
		{name: "plain-http-and-certificate", args: []string{"--plain-http", "--tls-cert-file", "DIR/c.pem", "--tls-private-key-file", "DIR/k.pem"},
			wantErr: "--plain-http contradicts --tls-cert-file and --tls-private-key-file"},
		{name: "stdin", args: []string{"--listen", "127.0.0.1:0", "-f", "-"}, stdin: manifest, pod: "sleeper"},
		{name: "file", args: []string{"--listen", "127.0.0.1:0", "-f", "DIR/pods.yaml"}, files: map[string]string{"pods.yaml": manifest}, pod: "sleeper"},
		{name: "invalid-manifest", args: []string{"-f", "DIR/bad.yaml"}, files: map[string]string{"bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"},
			wantErr: "DIR/bad.yaml: document 1: spec.containers: at least one container is required"},
		{name: "empty-manifest", args: []string{"-f", "DIR/empty.yaml"}, files: map[string]string{"empty.yaml": "---\n"}, wantErr: "DIR/empty.yaml: no objects"},
		{name: "duplicate-across-files", args: []string{"-f", "DIR/a.yaml", "-f", "-"}, files: map[string]string{"a.yaml": manifest}, stdin: manifest,
			wantErr: "<stdin>: pod default/sleeper is already defined in DIR/a.yaml"},
		{name: "namespace", args: []string{"--listen", "127.0.0.1:0", "-f", "DIR/ns.yaml", "-f", "-"},
			files: map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n"}, stdin: manifest, pod: "sleeper"},
		{name: "duplicate-namespace", args: []string{"-f", "DIR/ns.yaml", "-f", "-"},
			files: map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n"}, stdin: "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
			wantErr: "<stdin>: namespace team is already defined in DIR/ns.yaml"},
		{name: "secret", args: []string{"--listen", "127.0.0.1:0", "-f", "DIR/secret.yaml", "-f", "-"},
			files: map[string]string{"secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: x}\n"}, stdin: manifest, pod: "sleeper"},
		{name: "duplicate-secret", args: []string{"-f", "DIR/secret.yaml", "-f", "-"},
			files: map[string]string{"secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"}, stdin: "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: default}\n",
			wantErr: "<stdin>: secret default/db is already defined in DIR/secret.yaml"},
		{name: "invalid-secret", args: []string{"-f", "DIR/secret.yaml"},
			files:   map[string]string{"secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ntype: kubernetes.io/tls\n"},
			wantErr: "DIR/secret.yaml: document 1: data[tls.crt]: Required value"},
		{name: "stdin-twice", args: []string{"-f", "-", "-f", "-"}, stdin: manifest, wantErr: "-f - (stdin) given more than once"},
		{name: "missing-file", args: []string{"-f", "DIR/nope.yaml"}, wantErr: "open DIR/nope.yaml: no such file or directory"},
		{name: "tokens-over-http-off-loopback", args: []string{"--listen", "0.0.0.0:0", "--token-auth-file", "DIR/t.csv", "--plain-http"},
			files:   map[string]string{"t.csv": "tok,alice,1\n"},
			wantErr: "refusing bearer tokens over plain HTTP on 0.0.0.0:0: serve TLS (--tls-cert-file, --tls-private-key-file) or, behind a TLS-terminating proxy, pass --insecure-http-auth"},
		{name: "anonymous-without-rbac", args: []string{"--listen", "127.0.0.1:0", "--token-auth-file", "DIR/t.csv", "--anonymous-auth"},
			files:   map[string]string{"t.csv": "tok,alice,1\n"},
			wantErr: "gateway: anonymous access from any address needs an authorizer (RBAC): anonymous callers would be allowed everything"},
		{name: "not-loopback", args: []string{"--listen", "0.0.0.0:0"},
			wantErr: `refusing to listen on "0.0.0.0:0" (0.0.0.0): without authentication porthole serves loopback addresses only (127.0.0.1, ::1 or localhost)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, in, _, errOut := testFactory(t)
			dir := t.TempDir()
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			in.WriteString(tc.stdin)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &cancelOnWrite{cancel: cancel}
			f.IOStreams.Out = out
			kc := filepath.Join(dir, "sub", "kubeconfig")
			args := []string{"serve", "--write-kubeconfig", kc}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			root := clitest.Root(NewCmd(f, nil))
			root.SetArgs(args)
			err := root.ExecuteContext(ctx)
			if tc.wantErr != "" {
				if want := strings.ReplaceAll(tc.wantErr, "DIR", dir); err == nil || err.Error() != want {
					t.Fatalf("got error %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			plain := slices.Contains(tc.args, "--plain-http")
			scheme, token := "https", `token: the first field of `+regexp.QuoteMeta(filepath.Join(configDir(t, f), "porthole", "serve", "tokens.csv"))+` \(the web terminal asks for it\)\n`
			if plain {
				scheme, token = "http", ""
			}
			banner := regexp.MustCompile(`^porthole serving on (` + scheme + `://127\.0\.0\.1:\d+)\nkubeconfig: (.*)\ntry: kubectl --kubeconfig (.*) exec ` + tc.pod + ` -- date\n` + token + `$`)
			m := banner.FindStringSubmatch(out.String())
			if m == nil || m[2] != kc {
				t.Fatalf("banner %q does not match %s with kubeconfig %s", out.String(), banner, kc)
			}
			cfg, err := os.ReadFile(kc)
			if err != nil || !strings.Contains(string(cfg), "server: "+m[1]+"\n") {
				t.Errorf("kubeconfig (%v):\n%s", err, cfg)
			}
			if creds := strings.Contains(string(cfg), "token: ") && strings.Contains(string(cfg), "certificate-authority-data: "); creds == plain {
				t.Errorf("kubeconfig carries a token and an authority: %t; plain HTTP: %t", creds, plain)
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr: %s", errOut)
			}
		})
	}
}

func configDir(t *testing.T, f *cli.Factory) string {
	t.Helper()
	dir, err := f.ConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
