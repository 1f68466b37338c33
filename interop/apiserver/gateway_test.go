package apiserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/interop/internal/official"
)

// Gateway callers: its own tokens, impersonated upstream as these users.
const (
	gwAdminToken   = "gw-admin-token"
	gwAdminUser    = "gw-admin"
	gwLimitedToken = "gw-limited-token"
)

// gatewayMode is one way `porthole gateway` meets the API server.
type gatewayMode struct {
	name  string
	flags []string
	// upstreamWS: does the API server get a WebSocket for verb from a
	// client on wire ws?
	upstreamWS func(verb string, ws bool) bool
}

var gatewayModes = []gatewayMode{
	{"pass-through", nil, func(_ string, ws bool) bool { return ws }},
	{"upstream-spdy-only", []string{"--upstream-spdy-only"}, func(string, bool) bool { return false }},
	// SPDY exec and attach become v5, SPDY port-forward is wrapped in
	// the tunnel.
	{"upstream-websocket-only", []string{"--upstream-websocket-only"}, func(string, bool) bool { return true }},
}

// TestGateway puts `porthole gateway --impersonate` in front of the real
// API server in each mode and runs kubectl of every era and porthole's
// client through it to the node that declares WebSockets: every verb
// works, the API server's RBAC applies to the impersonated caller (token
// or client certificate at the gateway), a refusal reads exactly as the
// API server's own, and the gateway's audit log records the sessions.
func TestGateway(t *testing.T) {
	identity, err := env.cp.CA.Issue("porthole-gateway", false, "porthole-gateway")
	if err != nil {
		t.Fatal(err)
	}
	if err := allowImpersonation(t.Context(), "porthole-gateway"); err != nil {
		t.Fatal(err)
	}
	n := env.nodes[0]
	if !n.declared {
		t.Fatal("the first node should declare WebSockets")
	}
	for _, m := range gatewayModes {
		t.Run(m.name, func(t *testing.T) {
			gw := startGateway(t, identity, m.flags)
			for _, k := range env.kubectls {
				for _, w := range k.Wires() {
					c := gw.kc(k, w, n, t.TempDir(), m)
					t.Run(k.Name()+"/"+w.Name, func(t *testing.T) {
						t.Run("exec", c.testExec)
						t.Run("quiet", c.testQuiet)
						t.Run("attach", c.testAttach)
						t.Run("cp", c.testCopy)
						t.Run("forbidden-as-upstream", func(t *testing.T) { c.testSameRefusal(t, direct(k, w, n, t.TempDir())) })
					})
				}
				for _, w := range k.PortForwardWires() {
					c := gw.kc(k, w, n, t.TempDir(), m)
					t.Run(k.Name()+"/port-forward-"+w.Name, c.testPortForward)
				}
			}
			for _, w := range portholeWires {
				c := gw.kc(harness.Kubectl{}, w, n, t.TempDir(), m)
				c.porthole = true
				t.Run("porthole/"+w.Name, func(t *testing.T) {
					t.Run("exec", c.testExec)
					t.Run("attach", c.testAttach)
					t.Run("cp", c.testCopy)
					t.Run("port-forward", c.testPortForward)
				})
			}
			t.Run("client-certificate", func(t *testing.T) {
				k := env.kubectls[len(env.kubectls)-1]
				c := gw.kc(k, k.Wires()[0], n, t.TempDir(), m)
				c.admin = gw.cert
				c.testExec(t)
			})
			gw.checkAudit(t)
			gw.checkKeepAlives(t)
		})
	}
}

// TestGatewayBridged puts `porthole gateway --impersonate --session-join`
// in front of the real API server. Every interactive session is then
// bridged: the gateway terminates the client's wire, whatever it is, and
// dials the API server itself with WebSocket v5 as the caller, so that
// others can watch and join. kubectl of every era on each of its wires
// execs with stdin (bytes, stderr and exit code) and attaches twice, and
// each official client (Python speaks WebSocket v4 only, JavaScript v5)
// execs with 8 MiB of stdin in one write, attaches, and resizes a tty; the
// node sees WebSocket sessions only, and the gateway counts one bridge per
// session.
func TestGatewayBridged(t *testing.T) {
	n := env.nodes[0]
	gw := startImpersonatingGateway(t, "bridged", []string{"--session-join"})
	bridged := gatewayMode{"session-join", []string{"--session-join"}, func(string, bool) bool { return true }}
	sessions := 0
	for _, k := range env.kubectls {
		for _, w := range k.Wires() {
			c := gw.kc(k, w, n, t.TempDir(), bridged)
			t.Run(k.Name()+"/"+w.Name, func(t *testing.T) {
				t.Run("exec", c.testExec)
				t.Run("attach", c.testAttach)
			})
			sessions += 3 // one exec, two attaches
		}
	}
	at := func(base string) official.Target {
		return official.Target{Kubeconfig: gw.admin, Namespace: "default", Pod: n.pod(base), Container: "main"}
	}
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			c.Need(t)
			mark := n.mark()
			t.Run("exec", func(t *testing.T) { c.Exec(t, at("exec"), 8<<20) })
			t.Run("attach", func(t *testing.T) { c.Attach(t, at("cat")) })
			t.Run("tty-resize", func(t *testing.T) { c.TTYResize(t, at("exec")) })
			sessions += 3
			want := []string{"exec/websocket", "attach/websocket", "exec/websocket"}
			if got := n.sessionsSince(mark); !slices.Equal(got, want) {
				t.Errorf("node %s saw %q, want %q", n.name, got, want)
			}
		})
	}
	if got := gw.metric(t, `porthole_gateway_translations_total{kind="bridge"}`); got != float64(sessions) {
		t.Errorf("the gateway bridged %v sessions, want %d (every exec and attach)", got, sessions)
	}
}

// keepAliveFlag makes the gateway ping its clients often, so that every
// client of the cases meets pings (and the quiet case many: about 20 in its
// second, against the 5 checkKeepAlives wants. At 100 ms a loaded machine
// fired only 28 for six sessions: a SPDY exec's process now starts at the
// upgrade, so the quiet second overlaps the stream setup).
const keepAliveFlag = "--keepalive-interval=50ms"

// testQuiet: a session with a quiet second gets the gateway's keep-alive
// pings (about ten); the client answers them, the gateway keeps the
// answers (the API server would reset the connection on them, unread, and
// lose the session's end), and nothing of the session changes.
func (c *kc) testQuiet(t *testing.T) {
	mark := c.n.mark()
	r := c.run(t, c.admin, nil, "exec", c.n.pod("exec"), "-c", "main", "--", "sh", "-c", "sleep 1; echo after-the-quiet")
	if r.code != 0 || string(r.stdout) != "after-the-quiet\n" {
		t.Errorf("exit code %d, stdout %q, stderr %q\n%s", r.code, r.stdout, tail(r.stderr), c.logsSince(mark))
	}
}

// metric reads one sample of the gateway's /metrics, named with its
// labels as the exposition writes them (0 when absent).
func (g *gatewayProc) metric(t *testing.T, sample string) float64 {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.cp.CA.CertPEM)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, g.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+gwAdminToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", l, err)
			}
			return f
		}
	}
	return 0
}

// checkKeepAlives: the gateway did ping (its metric), at least five times
// per quiet session.
func (g *gatewayProc) checkKeepAlives(t *testing.T) {
	t.Helper()
	pings := g.metric(t, "porthole_gateway_keepalive_pings_total")
	quiet := 0
	for _, k := range env.kubectls {
		quiet += len(k.Wires())
	}
	if pings < float64(5*quiet) {
		t.Errorf("the gateway sent %v keep-alive pings, want at least %d (5 per quiet session)", pings, 5*quiet)
	}
}

// testSameRefusal: the limited user, refused by the API server's RBAC,
// gets the same words and exit code through the gateway as directly.
func (c *kc) testSameRefusal(t *testing.T, straight *kc) {
	args := []string{"exec", c.n.pod("exec"), "-c", "main", "--", "true"}
	want := straight.run(t, straight.limited, nil, args...)
	got := c.run(t, c.limited, nil, args...)
	if got.code != want.code || !bytes.Equal(got.stderr, want.stderr) {
		t.Errorf("through the gateway: exit code %d, stderr %q\nstraight: exit code %d, stderr %q", got.code, got.stderr, want.code, want.stderr)
	}
	if !bytes.Contains(got.stderr, []byte("cannot create resource \"pods/exec\"")) {
		t.Errorf("stderr %q is not the API server's RBAC refusal", got.stderr)
	}
}

type gatewayProc struct {
	url     string
	dir     string
	audit   string
	admin   string // kubeconfigs for the gateway's callers
	limited string
	cert    string // a caller with a client certificate (gwCertUser)
}

// gwCertUser is the gateway caller who signs in with a client certificate.
const gwCertUser = "gw-cert-user"

func (g *gatewayProc) kc(k harness.Kubectl, w harness.Wire, n *node, home string, m gatewayMode) *kc {
	return &kc{k: k, w: w, n: n, home: home, admin: g.admin, limited: g.limited,
		upstreamWS: func(verb string) bool { return m.upstreamWS(verb, w.WebSocket) },
		gwLogs:     []string{filepath.Join(g.dir, "gateway.log"), g.audit}}
}

// startImpersonatingGateway starts `porthole gateway --impersonate` with
// flags and an identity of its own (user porthole-gateway, its certificate
// named after name) that may impersonate.
func startImpersonatingGateway(t *testing.T, name string, flags []string) *gatewayProc {
	t.Helper()
	identity, err := env.cp.CA.Issue("porthole-gateway-"+name, false, "porthole-gateway")
	if err != nil {
		t.Fatal(err)
	}
	if err := allowImpersonation(t.Context(), "porthole-gateway"); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, identity, flags)
}

// allowImpersonation lets user impersonate any user, group and uid, the
// RBAC a gateway's identity needs for --impersonate.
func allowImpersonation(ctx context.Context, user string) error {
	rc := env.cp.Admin.RbacV1().RESTClient()
	objs := []struct{ res, body string }{
		{"clusterroles", `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"interop-impersonator"},
"rules":[{"apiGroups":[""],"resources":["users","groups","serviceaccounts"],"verbs":["impersonate"]},
{"apiGroups":["authentication.k8s.io"],"resources":["uids","userextras/*"],"verbs":["impersonate"]}]}`},
		{"clusterrolebindings", `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"interop-impersonator"},
"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"interop-impersonator"},
"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"` + user + `"}]}`},
	}
	for _, o := range objs {
		err := rc.Post().Resource(o.res).Body([]byte(o.body)).SetHeader("Content-Type", "application/json").Do(ctx).Error()
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("create %s: %w", o.res, err)
		}
	}
	return nil
}

// startGateway runs `porthole gateway` toward the API server with the
// gateway identity's client certificate, its own HTTPS and tokens, and an
// audit log; it is stopped (and must exit 0) when the test ends.
func startGateway(t *testing.T, identity *harness.KeyPair, flags []string) *gatewayProc {
	t.Helper()
	dir := t.TempDir()
	g := &gatewayProc{dir: dir, audit: filepath.Join(dir, "audit.jsonl")}
	upstream := filepath.Join(dir, "upstream.kubeconfig")
	if err := env.cp.WriteKubeconfig(upstream, harness.User{Cert: identity}); err != nil {
		t.Fatal(err)
	}
	serving, err := env.cp.CA.Issue("gateway-serving-"+filepath.Base(dir), true, "porthole-gateway")
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(gwAdminToken+","+gwAdminUser+","+gwAdminUser+"-uid,system:masters\n"+
		gwLimitedToken+","+harness.LimitedUser+","+harness.LimitedUser+"-uid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-v", "1", "--upstream-kubeconfig", upstream, "--impersonate",
		"--token-auth-file", tokens, "--tls-cert-file", serving.CertFile, "--tls-private-key-file", serving.KeyFile,
		"--client-ca-file", env.cp.CA.CertFile, "--audit-log-path", g.audit, keepAliveFlag}, flags...)
	gw, err := harness.StartGateway(env.porthole, harness.GatewayOptions{Log: filepath.Join(dir, "gateway.log"),
		Env: append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir)}, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := gw.Stop(); err != nil {
			t.Error(err)
		}
	})
	g.url = gw.URL
	g.admin, g.limited = filepath.Join(dir, "admin.kubeconfig"), filepath.Join(dir, "limited.kubeconfig")
	for path, tok := range map[string]string{g.admin: gwAdminToken, g.limited: gwLimitedToken} {
		if err := harness.WriteKubeconfig(path, g.url, env.cp.CA.CertPEM, harness.User{Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	userCert, err := env.cp.CA.Issue("gateway-user-"+filepath.Base(dir), false, gwCertUser, "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	g.cert = filepath.Join(dir, "cert.kubeconfig")
	if err := harness.WriteKubeconfig(g.cert, g.url, env.cp.CA.CertPEM, harness.User{Cert: userCert}); err != nil {
		t.Fatal(err)
	}
	return g
}

// checkAudit: the gateway recorded sessions of both its callers, under
// their own names.
func (g *gatewayProc) checkAudit(t *testing.T) {
	t.Helper()
	lines, err := harness.ReadJSONLines(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]map[string]bool{}
	for _, l := range lines {
		var rec struct{ User, Verb, Stage, Outcome string }
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		if users[rec.User] == nil {
			users[rec.User] = map[string]bool{}
		}
		users[rec.User][rec.Verb] = true
	}
	for _, verb := range []string{"exec", "attach", "portforward"} {
		if !users[gwAdminUser][verb] {
			t.Errorf("audit log has no %s by %s: %v", verb, gwAdminUser, users)
		}
	}
	if !users[gwCertUser]["exec"] {
		t.Errorf("audit log has no exec by %s (client certificate): %v", gwCertUser, users)
	}
	if !users[harness.LimitedUser]["exec"] {
		t.Errorf("audit log has no refused exec by %s: %v", harness.LimitedUser, users)
	}
}

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	return tail(b)
}
