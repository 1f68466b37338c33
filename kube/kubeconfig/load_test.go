package kubeconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const firstConfig = `apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c1
  cluster:
    server: https://one.example:6443
    certificate-authority: ca.pem
    tls-server-name: one.internal
    proxy-url: http://proxy.example:3128
- name: shared
  cluster:
    server: https://first.example
contexts:
- name: one
  context: {cluster: c1, user: u1, namespace: team}
- name: two
  context: {cluster: shared, user: shared}
users:
- name: u1
  user:
    client-certificate: certs/client.pem
    client-key-data: ` + "S0VZ" + `
    as: alice
    as-groups: [g1, g2]
- name: shared
  user: {token: first-token}
`

const secondConfig = `{"apiVersion":"v1","kind":"Config","current-context":"three",
"clusters":[{"name":"shared","cluster":{"server":"https://second.example"}},
            {"name":"c3","cluster":{"server":"http://three.example","insecure-skip-tls-verify":true}}],
"contexts":[{"name":"two","context":{"cluster":"c3","user":"u3"}},
            {"name":"three","context":{"cluster":"c3","user":"u3"}}],
"users":[{"name":"shared","user":{"token":"second-token"}},
         {"name":"u3","user":{"tokenFile":"tok","username":"bob","password":"pw"}}]}`

func TestLoadKubeconfig(t *testing.T) {
	dir := t.TempDir()
	first := writeFile(t, dir, "a/config", firstConfig)
	writeFile(t, dir, "a/ca.pem", "CA")
	writeFile(t, dir, "a/certs/client.pem", "CERT")
	second := writeFile(t, dir, "b/config.json", secondConfig)
	env := strings.Join([]string{filepath.Join(dir, "missing"), first, second}, string(os.PathListSeparator))

	for _, tc := range []struct {
		name  string
		opts  LoadOptions
		check func(t *testing.T, cc *ClientConfig)
	}{
		{"first file's current context", LoadOptions{Env: env}, func(t *testing.T, cc *ClientConfig) {
			want := ClientConfig{Context: "one", Namespace: "team", Server: "https://one.example:6443", TLSServerName: "one.internal",
				CAData: []byte("CA"), ProxyURL: "http://proxy.example:3128", CertData: []byte("CERT"), KeyData: []byte("KEY"),
				Impersonate: "alice", ImpersonateGroups: []string{"g1", "g2"}}
			if got, w := dump(cc), dump(&want); got != w {
				t.Errorf("got %s\nwant %s", got, w)
			}
		}},
		{"first definition of a name wins", LoadOptions{Env: env, Context: "two"}, func(t *testing.T, cc *ClientConfig) {
			if cc.Server != "https://first.example" || cc.Token != "first-token" || cc.Namespace != "default" {
				t.Errorf("got server %q token %q ns %q, want the first file's entries and namespace default", cc.Server, cc.Token, cc.Namespace)
			}
		}},
		{"context only in the second file", LoadOptions{Env: env, Context: "three", Namespace: "n"}, func(t *testing.T, cc *ClientConfig) {
			if cc.Server != "http://three.example" || !cc.InsecureSkipTLSVerify || cc.TokenFile != filepath.Join(dir, "b", "tok") ||
				cc.Username != "bob" || cc.Password != "pw" || cc.Namespace != "n" {
				t.Errorf("got %s", dump(cc))
			}
		}},
		{"explicit file only", LoadOptions{Path: second, Env: env}, func(t *testing.T, cc *ClientConfig) {
			if cc.Context != "three" {
				t.Errorf("context %q, want three", cc.Context)
			}
		}},
		{"server flag", LoadOptions{Path: second, Server: "https://other:1"}, func(t *testing.T, cc *ClientConfig) {
			if cc.Server != "https://other:1" {
				t.Errorf("server %q", cc.Server)
			}
		}},
		{"home default", LoadOptions{Home: filepath.Join(dir, "home")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.check == nil {
				writeFile(t, dir, "home/.kube/config", secondConfig)
				tc.check = func(t *testing.T, cc *ClientConfig) {
					if cc.Context != "three" {
						t.Errorf("context %q, want three", cc.Context)
					}
				}
			}
			cc, err := Load(&tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cc)
		})
	}
}

func dump(cc *ClientConfig) string {
	c := *cc
	var b strings.Builder
	for _, f := range []string{c.Context, c.Namespace, c.Server, c.TLSServerName, string(c.CAData), c.ProxyURL,
		string(c.CertData), string(c.KeyData), c.Token, c.TokenFile, c.Username, c.Password, c.Impersonate,
		strings.Join(c.ImpersonateGroups, ",")} {
		b.WriteString(f + "|")
	}
	return b.String()
}

func TestLoadKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, config string
		opts         LoadOptions
		want         []string // substrings of the error
	}{
		{"bad yaml type", "clusters: 5\n", LoadOptions{}, []string{"bad", "line 1"}},
		{"missing context", firstConfig, LoadOptions{Context: "nope"}, []string{`context "nope" does not exist`}},
		{"bad base64", strings.Replace(firstConfig, "S0VZ", "'not%base64'", 1), LoadOptions{}, []string{"bad", "users[u1].client-key-data", "invalid base64"}},
		{"missing ca file", strings.Replace(firstConfig, "ca.pem", "nope.pem", 1), LoadOptions{}, []string{"bad", "clusters[c1].certificate-authority", "nope.pem"}},
		{"missing cluster", strings.Replace(firstConfig, "cluster: c1,", "cluster: zz,", 1), LoadOptions{}, []string{"bad", "contexts[one].cluster", `cluster "zz" does not exist`}},
		{"no server", strings.Replace(firstConfig, "server: https://first.example", "server: ''", 1), LoadOptions{Context: "two"}, []string{"clusters[shared].server", "no server"}},
		{"bad proxy", strings.Replace(firstConfig, "http://proxy.example:3128", "ftp://p:1", 1), LoadOptions{}, []string{"clusters[c1].proxy-url", `unsupported proxy scheme "ftp" (want http, https or socks5)`}},
		{"auth provider", strings.Replace(firstConfig, "{token: first-token}", "{auth-provider: {name: gcp}}", 1), LoadOptions{Context: "two"}, []string{"users[shared].auth-provider"}},
		{"exec without interactiveMode", strings.Replace(firstConfig, "{token: first-token}",
			"{exec: {apiVersion: client.authentication.k8s.io/v1, command: x}}", 1), LoadOptions{Context: "two"}, []string{"users[shared].exec.interactiveMode"}},
		{"exec bad version", strings.Replace(firstConfig, "{token: first-token}",
			"{exec: {apiVersion: v9, command: x}}", 1), LoadOptions{Context: "two"}, []string{"users[shared].exec.apiVersion"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			writeFile(t, d, "ca.pem", "CA")
			writeFile(t, d, "certs/client.pem", "CERT")
			tc.opts.Path = writeFile(t, d, "bad", tc.config)
			_, err := Load(&tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			var ke *Error
			if !errors.As(err, &ke) {
				t.Errorf("got %T, want *Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("explicit file must exist", func(t *testing.T) {
		_, err := Load(&LoadOptions{Path: filepath.Join(dir, "absent")})
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "absent") {
			t.Errorf("got %v, want a not-exist error naming the file", err)
		}
	})
	t.Run("nothing found", func(t *testing.T) {
		_, err := Load(&LoadOptions{Env: filepath.Join(dir, "absent")})
		if !errors.Is(err, ErrNoConfig) {
			t.Errorf("got %v, want ErrNoConfig", err)
		}
	})
}

func TestExecPlugin(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "runs")
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	script := writeFile(t, dir, "plugin.sh", `#!/bin/sh
echo run >> "$COUNTER"
case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) echo "bad exec info" >&2; exit 3;; esac
printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s-%s","expirationTimestamp":"2030-01-01T00:00:00Z"}}' "$1" "$PREFIX"
`)
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	p := NewExecPlugin(&ExecConfig{APIVersion: ExecV1beta1, Command: "./plugin.sh", Dir: dir, Args: []string{"tok"},
		Env: []ExecEnvVar{{"COUNTER", counter}, {"PREFIX", "x"}}}, nil)
	now := exp.Add(-time.Hour)
	p.now = func() time.Time { return now }
	runs := func() int { b, _ := os.ReadFile(counter); return strings.Count(string(b), "run") }
	for i, want := range []int{1, 1} {
		c, err := p.Credential(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c.Token != "tok-x" || !c.Expiry.Equal(exp) || runs() != want {
			t.Errorf("call %d: token %q expiry %v runs %d, want tok-x %v %d", i, c.Token, c.Expiry, runs(), exp, want)
		}
	}
	now = exp.Add(time.Second)
	if _, err := p.Credential(context.Background()); err != nil || runs() != 2 {
		t.Errorf("after expiry: %v, runs %d, want a second run", err, runs())
	}
	p.Invalidate()
	now = exp.Add(-time.Hour)
	if _, err := p.Credential(context.Background()); err != nil || runs() != 3 {
		t.Errorf("after Invalidate: %v, runs %d, want a third run", err, runs())
	}
}

func TestExecPluginFailure(t *testing.T) {
	p := NewExecPlugin(&ExecConfig{APIVersion: ExecV1, Command: "porthole-no-such-plugin", InstallHint: "install it"}, nil)
	_, err := p.Credential(context.Background())
	if err == nil || !strings.Contains(err.Error(), "install it") {
		t.Errorf("got %v, want the install hint", err)
	}
}

var execCredentialCases = []struct {
	name, data string
	ok         bool
}{
	{"token", `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}`, true},
	{"cert", `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"C","clientKeyData":"K"}}`, true},
	{"cert without key", `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"C"}}`, false},
	{"wrong version", `{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}`, false},
	{"no status", `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"}`, false},
	{"bad time", `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"soon"}}`, false},
	{"garbage", `{`, false},
}

func TestParseExecCredential(t *testing.T) {
	for _, tc := range execCredentialCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseExecCredential([]byte(tc.data), ExecV1)
			if (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func FuzzParseExecCredential(f *testing.F) {
	for _, tc := range execCredentialCases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseExecCredential(data, ExecV1)
		if err == nil && c.Token == "" && len(c.CertData) == 0 {
			t.Errorf("accepted a credential without token or certificate: %q", data)
		}
	})
}

func FuzzLoadKubeconfig(f *testing.F) {
	f.Add([]byte(firstConfig), "")
	f.Add([]byte(secondConfig), "two")
	f.Add([]byte("clusters: 5\n"), "")
	f.Add([]byte(strings.Replace(firstConfig, "{token: first-token}", "{exec: {apiVersion: client.authentication.k8s.io/v1, command: x, interactiveMode: Never, provideClusterInfo: true}}", 1)), "two")
	file := filepath.Join(f.TempDir(), "config")
	f.Fuzz(func(t *testing.T, data []byte, context string) {
		// Load's steps after reading the file, in memory.
		v, err := Parse(data)
		if err != nil {
			return
		}
		m := &merged{clusters: map[string]fileCluster{}, users: map[string]fileUser{},
			contexts: map[string]fileContext{}, files: map[string]string{}}
		m.add(v, file)
		cc, err := m.resolve(&LoadOptions{Context: context})
		if err == nil && (cc.Server == "" || cc.Namespace == "") {
			t.Errorf("loaded a config without server or namespace: %+v", cc)
		}
	})
}

// TestLoadKubeconfigOverrides: kubectl's connection flags replace what they
// name, with clientcmd's pairings (authority with insecure, --server with
// --tls-server-name, certificate with its inline data, token with its
// file), and flag paths are relative to the working directory.
func TestLoadKubeconfigOverrides(t *testing.T) {
	dir := t.TempDir()
	first := writeFile(t, dir, "a/config", firstConfig)
	writeFile(t, dir, "a/ca.pem", "CA")
	writeFile(t, dir, "a/certs/client.pem", "CERT")
	second := writeFile(t, dir, "b/config.json", secondConfig)
	env := first + string(os.PathListSeparator) + second
	writeFile(t, dir, "flags/ca.pem", "FLAG-CA")
	writeFile(t, dir, "flags/cert.pem", "FLAG-CERT")
	writeFile(t, dir, "flags/key.pem", "FLAG-KEY")
	t.Chdir(filepath.Join(dir, "flags"))

	for _, tc := range []struct {
		name string
		o    Overrides
		opts LoadOptions
		want ClientConfig
	}{
		{"cluster and user", Overrides{Cluster: "shared", User: "shared"}, LoadOptions{},
			ClientConfig{Context: "one", Namespace: "team", Server: "https://first.example", Token: "first-token"}},
		{"authority replaces the cluster's", Overrides{CertificateAuthority: "ca.pem"}, LoadOptions{},
			ClientConfig{Context: "one", Namespace: "team", Server: "https://one.example:6443", TLSServerName: "one.internal",
				CAData: []byte("FLAG-CA"), ProxyURL: "http://proxy.example:3128", CertData: []byte("CERT"), KeyData: []byte("KEY"),
				Impersonate: "alice", ImpersonateGroups: []string{"g1", "g2"}}},
		{"insecure clears the cluster's authority", Overrides{InsecureSkipTLSVerify: true, User: "shared"}, LoadOptions{},
			ClientConfig{Context: "one", Namespace: "team", Server: "https://one.example:6443", TLSServerName: "one.internal",
				InsecureSkipTLSVerify: true, ProxyURL: "http://proxy.example:3128", Token: "first-token"}},
		{"server clears the tls server name", Overrides{User: "shared"}, LoadOptions{Server: "https://x:1"},
			ClientConfig{Context: "one", Namespace: "team", Server: "https://x:1", CAData: []byte("CA"),
				ProxyURL: "http://proxy.example:3128", Token: "first-token"}},
		{"server with a tls server name", Overrides{User: "shared", TLSServerName: "x.internal"}, LoadOptions{Server: "https://x:1"},
			ClientConfig{Context: "one", Namespace: "team", Server: "https://x:1", TLSServerName: "x.internal", CAData: []byte("CA"),
				ProxyURL: "http://proxy.example:3128", Token: "first-token"}},
		{"certificate and key replace inline data", Overrides{ClientCertificate: "cert.pem", ClientKey: "key.pem"}, LoadOptions{},
			ClientConfig{Context: "one", Namespace: "team", Server: "https://one.example:6443", TLSServerName: "one.internal",
				CAData: []byte("CA"), ProxyURL: "http://proxy.example:3128", CertData: []byte("FLAG-CERT"), KeyData: []byte("FLAG-KEY"),
				Impersonate: "alice", ImpersonateGroups: []string{"g1", "g2"}}},
		{"token replaces token file; basic auth", Overrides{Token: "flag-token", Username: "carol", Password: "pw2"}, LoadOptions{Context: "three"},
			ClientConfig{Context: "three", Namespace: "default", Server: "http://three.example", InsecureSkipTLSVerify: true,
				Token: "flag-token", Username: "carol", Password: "pw2"}},
		{"act as", Overrides{Impersonate: "bob", ImpersonateUID: "u-1", ImpersonateGroups: []string{"g3"}}, LoadOptions{Context: "two"},
			ClientConfig{Context: "two", Namespace: "default", Server: "https://first.example", Token: "first-token",
				Impersonate: "bob", ImpersonateUID: "u-1", ImpersonateGroups: []string{"g3"}}},
		{"no context, a cluster", Overrides{Cluster: "c3"}, LoadOptions{Path: second, Context: ""},
			ClientConfig{Context: "three", Namespace: "default", Server: "http://three.example", InsecureSkipTLSVerify: true,
				TokenFile: filepath.Join(dir, "b", "tok"), Username: "bob", Password: "pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if opts.Path == "" {
				opts.Env = env
			}
			opts.Overrides = tc.o
			cc, err := Load(&opts)
			if err != nil {
				t.Fatal(err)
			}
			if got, w := dump(cc)+fmt.Sprint(cc.InsecureSkipTLSVerify, cc.ImpersonateUID), dump(&tc.want)+fmt.Sprint(tc.want.InsecureSkipTLSVerify, tc.want.ImpersonateUID); got != w {
				t.Errorf("got  %s\nwant %s", got, w)
			}
		})
	}
	for _, tc := range []struct {
		name string
		o    Overrides
		want string
	}{
		{"unknown cluster", Overrides{Cluster: "nope"}, `--cluster: cluster "nope" does not exist`},
		{"unknown user", Overrides{User: "nope"}, `--user: user "nope" does not exist`},
		{"missing authority file", Overrides{CertificateAuthority: "missing.pem"}, "missing.pem: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(&LoadOptions{Env: env, Overrides: tc.o})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
