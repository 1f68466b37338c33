package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/kube/kubeconfig"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(*Options) bool
	}{
		{"upstream", []string{"--upstream", "http://127.0.0.1:1", "--upstream-spdy-only", "--rbac-file", "a", "--rbac-file", "b"}, "",
			func(o *Options) bool {
				return o.Upstream == "http://127.0.0.1:1" && o.SPDYOnlyUpstream && len(o.Security.RBACFiles) == 2 && o.Listen == DefaultListen
			}},
		{"security defaults", []string{"--upstream", "http://x"}, "",
			func(o *Options) bool {
				return o.Security.IdleTimeout == 4*time.Hour && o.Security.MaxSessions == gateway.DefaultMaxSessions && !o.Security.AllowAnonymous
			}},
		{"gates", []string{"--upstream", "http://x", "--feature-gates", "PortForwardWebsockets=false"}, "",
			func(o *Options) bool { return o.Security.FeatureGates == "PortForwardWebsockets=false" }},
		{"first-run defaults", []string{"--upstream", "http://x"}, "",
			func(o *Options) bool { return !o.PlainHTTP && o.CertDir == "" && o.WriteKubeconfig == nil }},
		{"first-run flags", []string{"--upstream", "http://x", "--plain-http", "--cert-dir", "/c", "--write-kubeconfig", ""}, "",
			func(o *Options) bool {
				return o.PlainHTTP && o.CertDir == "/c" && o.WriteKubeconfig != nil && *o.WriteKubeconfig == ""
			}},
		{"oidc defaults", []string{"--upstream", "http://x"}, "",
			func(o *Options) bool {
				c := o.Security.OIDC
				return c.IssuerURL == "" && c.UsernameClaim == "sub" && c.UsernamePrefix == "" && len(c.SigningAlgs) == 1 && c.SigningAlgs[0] == "RS256"
			}},
		{"oidc", []string{"--upstream", "http://x", "--oidc-issuer-url", "https://idp", "--oidc-client-id", "pc",
			"--oidc-username-claim", "email", "--oidc-username-prefix", "-", "--oidc-groups-claim", "groups", "--oidc-groups-prefix", "oidc:",
			"--oidc-ca-file", "/ca.pem", "--oidc-required-claim", "hd=example.com", "--oidc-required-claim", "tier=gold",
			"--oidc-signing-algs", "RS256,ES256", "--oidc-client-secret-file", "/s", "--oidc-redirect-url", "https://gw/oidc/callback",
			"--oidc-extra-scope", "email,groups", "--oidc-session-key-file", "/k"}, "",
			func(o *Options) bool {
				c := o.Security.OIDC
				return c.IssuerURL == "https://idp" && c.ClientID == "pc" && c.UsernameClaim == "email" && c.UsernamePrefix == "-" &&
					c.GroupsClaim == "groups" && c.GroupsPrefix == "oidc:" && c.CAFile == "/ca.pem" &&
					len(c.RequiredClaims) == 2 && c.RequiredClaims["hd"] == "example.com" && c.RequiredClaims["tier"] == "gold" &&
					strings.Join(c.SigningAlgs, ",") == "RS256,ES256" && c.ClientSecretFile == "/s" &&
					c.RedirectURL == "https://gw/oidc/callback" && strings.Join(c.ExtraScopes, ",") == "email,groups" && c.SessionKeyFile == "/k"
			}},
		{"recording bucket", []string{"--upstream", "http://x", "--recording-bucket", "b", "--recording-endpoint", "minio:9000",
			"--recording-path-style", "--recording-region", "eu-west-1", "--recording-credentials-file", "/c", "--recording-auditor-group", "a",
			"--recording-auditor-group", "b"}, "",
			func(o *Options) bool {
				r := o.Recordings
				return r.Bucket == "b" && r.Endpoint == "minio:9000" && r.PathStyle && r.Region == "eu-west-1" && r.CredentialsFile == "/c" &&
					r.Prefix == "recordings/" && !r.AllowHTTP && len(r.AuditorGroups) == 2
			}},
		{"no upstream", nil, "exactly one of --upstream and --upstream-kubeconfig is required", nil},
		{"both upstreams", []string{"--upstream", "http://x", "--upstream-kubeconfig", "k"}, "exactly one of", nil},
		{"argument", []string{"--upstream", "http://x", "extra"}, "unknown command", nil},
		{"both upstream wires", []string{"--upstream", "http://x", "--upstream-spdy-only", "--upstream-websocket-only"}, "exclude each other", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cli.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
			cli.AddGlobalFlags(cmd.PersistentFlags())
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got == nil || !tc.check(got) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

// TestRunServesAndShutsDown runs the command in front of an upstream,
// checks a proxied read and /metrics, then cancels it: exit clean. With a
// token file and no certificate it serves HTTPS from the authority it
// makes in its config directory, and the kubeconfig it writes verifies
// it; with --plain-http it serves plain HTTP and writes none.
func TestRunServesAndShutsDown(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "made-tls", true: "plain-http"}[plain], func(t *testing.T) {
			testRunServesAndShutsDown(t, plain)
		})
	}
}

func testRunServesAndShutsDown(t *testing.T, plain bool) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"gitVersion":"v1.37.2"}`)
	}))
	defer up.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	tokens := filepath.Join(dir, "tokens.csv")
	os.WriteFile(tokens, []byte("tok,alice,1\n"), 0o600)
	ios, _, _, _ := iostreams.Test()
	pr, pw := io.Pipe()
	ios.Out = pw
	f := &cli.Factory{IOStreams: ios, ConfigDir: func() (string, error) { return config, nil }}
	opts := &Options{IO: ios, Factory: f, Listen: "127.0.0.1:0", Upstream: up.URL, PlainHTTP: plain,
		ShutdownGrace: 5 * time.Second, ShutdownDelay: 2 * time.Second}
	opts.Security = Security{TokenAuthFile: tokens, AuditLogPath: filepath.Join(dir, "audit.jsonl"),
		MaxSessions: 10, MaxSessionsPerUser: 10, MaxMessageBytes: 1 << 20, MaxHeaderBytes: 1 << 16, IdleTimeout: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts) }()
	br := bufio.NewReader(pr)
	banner, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	scheme := map[bool]string{false: "https", true: "http"}[plain]
	m := regexp.MustCompile(`^gateway listening on (` + scheme + `://127\.0\.0\.1:\d+), upstream ` + regexp.QuoteMeta(up.URL) + `\n$`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner %q, want %s", banner, scheme)
	}
	addr := m[1]
	client := &http.Client{}
	kc := filepath.Join(config, "porthole", "gateway", "kubeconfig")
	if !plain {
		line, err := br.ReadString('\n')
		if want := "kubeconfig: " + kc + " (this gateway's address and authority; add a credential: kubectl --kubeconfig " + kc +
			" config set-credentials porthole-gateway --token=TOKEN)\n"; err != nil || line != want {
			t.Fatalf("second line %q (%v), want %q", line, err, want)
		}
		cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: kc})
		if err != nil || cc.Server != addr || cc.Token != "" || cc.Context != KubeconfigContext {
			t.Fatalf("kubeconfig: %+v, %v", cc, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cc.CAData) {
			t.Fatal("kubeconfig: no authority")
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	} else if _, err := os.Stat(filepath.Join(config, "porthole", "gateway")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--plain-http made %s: %v", filepath.Join(config, "porthole", "gateway"), err)
	}
	defer client.CloseIdleConnections()
	go io.Copy(io.Discard, br)
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/version", ""); code != 401 {
		t.Errorf("/version without token: %d", code)
	}
	if code, body := get("/version", "tok"); code != 200 || !strings.Contains(body, "v1.37.2") {
		t.Errorf("/version: %d %q", code, body)
	}
	if code, body := get("/metrics", "tok"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d", code)
	}
	if code, _ := get("/readyz", ""); code != 200 {
		t.Errorf("/readyz before SIGTERM: %d, want 200", code)
	}
	// SIGTERM: for the delay /readyz fails while the gateway still serves.
	cancel()
	deadline := time.Now().Add(opts.ShutdownDelay / 2)
	for code, _ := get("/readyz", ""); code != 503; code, _ = get("/readyz", "") {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d during the shutdown delay", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := get("/version", "tok"); code != 200 || !strings.Contains(body, "v1.37.2") {
		t.Errorf("/version during the shutdown delay: %d %q", code, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	pw.Close()
}

func TestSelfTLSRefusesContradiction(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	opts := &Options{IO: ios, Factory: &cli.Factory{IOStreams: ios}, Listen: "127.0.0.1:0", PlainHTTP: true,
		Security: Security{TLSCertFile: "c.pem", TLSKeyFile: "k.pem"}}
	if _, err := selfTLS(opts); err == nil || err.Error() != "--plain-http contradicts --tls-cert-file and --tls-private-key-file" {
		t.Errorf("got %v", err)
	}
}

func TestServerURL(t *testing.T) {
	name, _ := os.Hostname()
	addr := &net.TCPAddr{IP: net.IPv4zero, Port: 8443}
	for listen, want := range map[string]string{
		"127.0.0.1:0":     "https://127.0.0.1:8443",
		"[::1]:0":         "https://[::1]:8443",
		"gw.example:8443": "https://gw.example:8443",
		":8443":           "https://" + net.JoinHostPort(name, "8443"),
		"0.0.0.0:8443":    "https://" + net.JoinHostPort(name, "8443"),
	} {
		if got := serverURL(listen, addr); got != want {
			t.Errorf("serverURL(%q) = %q, want %q", listen, got, want)
		}
	}
}

// TestApplyOIDC: the --oidc-* flags become a token authenticator beside
// the token file, and their mistakes are refused before serving.
func TestApplyOIDC(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	secret, key, empty := filepath.Join(dir, "secret"), filepath.Join(dir, "key"), filepath.Join(dir, "empty")
	for name, content := range map[string]string{tokens: "t1,alice,1\n", secret: "s3cret\n", key: strings.Repeat("k", 32), empty: ""} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		sec     Security
		wantErr string
		check   func(*gateway.Options) bool
	}{
		{"issuer alone", Security{OIDC: OIDC{IssuerURL: "https://idp.example", ClientID: "c"}}, "",
			func(o *gateway.Options) bool {
				_, isUnion := o.Tokens.(gateway.TokenAuthenticators)
				return o.Tokens != nil && !isUnion
			}},
		{"issuer and token file", Security{TokenAuthFile: tokens, OIDC: OIDC{IssuerURL: "https://idp.example", ClientID: "c"}}, "",
			func(o *gateway.Options) bool {
				u, ok := o.Tokens.(gateway.TokenAuthenticators)
				return ok && len(u) == 2
			}},
		{"http issuer", Security{OIDC: OIDC{IssuerURL: "http://idp.example", ClientID: "c"}}, "must be an https URL", nil},
		{"no client id", Security{OIDC: OIDC{IssuerURL: "https://idp.example"}}, "client ID is required", nil},
		{"client id alone", Security{OIDC: OIDC{ClientID: "c"}}, "--oidc-client-id needs --oidc-issuer-url", nil},
		{"missing CA", Security{OIDC: OIDC{IssuerURL: "https://idp.example", ClientID: "c", CAFile: filepath.Join(dir, "none.pem")}}, "read CA file", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &gateway.Options{}
			_, closeFn, err := tc.sec.Apply(o)
			defer closeFn()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(o) {
				t.Fatalf("got %+v, %v", o.Tokens, err)
			}
		})
	}
	// ID tokens are bearer tokens: never over plain HTTP off loopback.
	sec := Security{OIDC: OIDC{IssuerURL: "https://idp.example", ClientID: "c"}}
	if err := sec.CheckListen("0.0.0.0:8443", nil); err == nil || !strings.Contains(err.Error(), "refusing bearer tokens over plain HTTP") {
		t.Fatalf("CheckListen: got %v", err)
	}
}

// TestSelfTLSForIDTokens: kubectl sends an ID token only over TLS, so an
// OIDC-only gateway without a certificate gets one made, as a token-file
// gateway does.
func TestSelfTLSForIDTokens(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	dir := t.TempDir()
	opts := &Options{IO: ios, Factory: &cli.Factory{IOStreams: ios}, Listen: "127.0.0.1:0", CertDir: dir,
		Security: Security{OIDC: OIDC{IssuerURL: "https://idp.example", ClientID: "c"}}}
	fr, err := selfTLS(opts)
	if err != nil || fr == nil {
		t.Fatalf("got %v, %v; want a made certificate", fr, err)
	}
	defer fr.cleanup()
	if !strings.HasPrefix(opts.Security.TLSCertFile, dir) || len(fr.ca) == 0 {
		t.Fatalf("certificate %q, authority %d bytes", opts.Security.TLSCertFile, len(fr.ca))
	}
}
