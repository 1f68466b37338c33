package oidc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/interop/internal/harness"
)

// env is set once by TestMain and read-only after.
var env *setup

// target is a server under test with OpenID Connect on: its URL and the
// authority of its serving certificate.
type target struct {
	Name  string
	URL   string
	CAPEM []byte
	// UserName is the name the server gives a provider's user, by its
	// --oidc-username-claim and prefix.
	UserName func(u idpUser) string
}

type setup struct {
	dir      string
	ca       *harness.CA
	idp      *provider // the provider the servers trust
	impostor *provider // answers for idp's issuer, with its own key
	upstream *harness.Server
	gateway  *harness.Gateway
	auditLog string // the gateway's
	serve    *harness.Server
	targets  []target
	kubectls []harness.Kubectl
}

func TestMain(m *testing.M) {
	s, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "oidc interop setup:", err)
		if s != nil {
			s.stop()
		}
		os.Exit(1)
	}
	env = s
	code := m.Run()
	if err := s.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "oidc interop teardown:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "oidc interop:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// rbac lets the provider's group admins exec, viewers only read; and the
// user bob-id, as the gateway names it (sub with the issuer prefix), exec
// too: so bob gets in at the gateway by his prefixed name and not at
// serve, where his name is his email.
func rbac(issuer string) string {
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: exec}
rules:
- apiGroups: [""]
  resources: [pods, pods/exec]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: read}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins}
subjects: [{kind: Group, name: "oidc:admins"}]
roleRef: {kind: ClusterRole, name: exec}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: viewers}
subjects: [{kind: Group, name: "oidc:viewers"}]
roleRef: {kind: ClusterRole, name: read}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-by-sub}
subjects: [{kind: User, name: "` + issuer + `#bob-id"}]
roleRef: {kind: ClusterRole, name: exec}
`
}

func start() (_ *setup, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "oidc-interop-")
	if err != nil {
		return nil, err
	}
	s := &setup{dir: dir}
	bin, err := harness.BuildPorthole(ctx, dir)
	if err != nil {
		return s, err
	}
	for _, k := range harness.FindKubectls("") {
		if k.Path != "" {
			s.kubectls = append(s.kubectls, k)
		}
	}
	if err := harness.RequireKubectls(s.kubectls); err != nil {
		return s, err
	}
	if len(s.kubectls) == 0 {
		return s, errors.New("no kubectl 1.27 ... 1.33 found")
	}
	if s.ca, err = harness.NewCA(dir, "test-ca"); err != nil {
		return s, err
	}
	kp, err := s.ca.Issue("idp", true, "localhost")
	if err != nil {
		return s, err
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return s, err
	}
	idpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	issuer := "https://" + idpLn.Addr().String()
	s.idp = startProvider(idpLn, issuer, cert)
	impLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	s.impostor = startProvider(impLn, issuer, cert)
	rbacFile := filepath.Join(dir, "rbac.yaml")
	if err := os.WriteFile(rbacFile, []byte(rbac(issuer)), 0o600); err != nil {
		return s, err
	}
	secretFile := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte(clientSecret+"\n"), 0o600); err != nil {
		return s, err
	}
	oidcFlags := []string{"--oidc-issuer-url", issuer, "--oidc-client-id", clientID, "--oidc-ca-file", s.ca.CertFile,
		"--oidc-groups-claim", "groups", "--oidc-groups-prefix", "oidc:", "--rbac-file", rbacFile,
		"--oidc-client-secret-file", secretFile, "--oidc-extra-scope", "email," + groupsScope}

	upDir := filepath.Join(dir, "upstream")
	if err := os.MkdirAll(upDir, 0o700); err != nil {
		return s, err
	}
	if s.upstream, err = harness.StartServer(ctx, bin, upDir, "--plain-http"); err != nil {
		return s, fmt.Errorf("start upstream serve: %w", err)
	}
	gw, err := s.ca.Issue("gateway", true, "localhost")
	if err != nil {
		return s, err
	}
	// The gateway: default username claim (sub), so names carry the
	// issuer prefix.
	s.auditLog = filepath.Join(dir, "gateway-audit.jsonl")
	if s.gateway, err = startGateway(bin, dir, append([]string{"--upstream", "http://" + s.upstream.Addr, "--audit-log-path", s.auditLog,
		"--tls-cert-file", gw.CertFile, "--tls-private-key-file", gw.KeyFile}, oidcFlags...)...); err != nil {
		return s, err
	}
	s.idp.client(clientID).addRedirect(s.gateway.URL + "/oidc/callback")
	s.targets = append(s.targets, target{Name: "gateway", URL: s.gateway.URL, CAPEM: s.ca.CertPEM,
		UserName: func(u idpUser) string { return issuer + "#" + u.ID }})

	// serve: the email claim, which the API server never prefixes.
	serveDir := filepath.Join(dir, "serve")
	if err := os.MkdirAll(serveDir, 0o700); err != nil {
		return s, err
	}
	if s.serve, err = harness.StartServer(ctx, bin, serveDir, append([]string{"--cert-dir", filepath.Join(serveDir, "certs"),
		"--oidc-username-claim", "email"}, oidcFlags...)...); err != nil {
		return s, fmt.Errorf("start serve: %w", err)
	}
	serveCA := s.serve.Config.TLSClientConfig.CAData
	if len(serveCA) == 0 {
		if serveCA, err = os.ReadFile(s.serve.Config.TLSClientConfig.CAFile); err != nil {
			return s, fmt.Errorf("serve's authority: %w", err)
		}
	}
	s.idp.client(clientID).addRedirect(s.serve.Config.Host + "/oidc/callback")
	s.targets = append(s.targets, target{Name: "serve", URL: s.serve.Config.Host, CAPEM: serveCA,
		UserName: func(u idpUser) string { return u.Email }})
	return s, nil
}

func (s *setup) stop() error {
	var errs []error
	errs = append(errs, s.gateway.Stop())
	for _, srv := range []*harness.Server{s.serve, s.upstream} {
		if srv != nil {
			errs = append(errs, srv.Stop())
		}
	}
	for _, p := range []*provider{s.idp, s.impostor} {
		if p != nil {
			errs = append(errs, p.close())
		}
	}
	errs = append(errs, os.RemoveAll(s.dir))
	return errors.Join(errs...)
}

func startGateway(bin, dir string, args ...string) (*harness.Gateway, error) {
	return harness.StartGateway(bin, harness.GatewayOptions{Log: filepath.Join(dir, "gateway.log")}, append([]string{"-v", "4"}, args...)...)
}
