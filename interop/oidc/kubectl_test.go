package oidc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/porthole/porthole/interop/internal/harness"
)

func user(name string) idpUser {
	for _, u := range users {
		if u.Username == name {
			return u
		}
	}
	panic("no user " + name)
}

// token signs u in at the trusted provider as the gateway's client.
func token(t *testing.T, u idpUser) string {
	t.Helper()
	tok, err := idToken(context.Background(), env.idp, env.ca.CertPEM, "", clientID, clientSecret, u.Username, u.Password)
	if err != nil {
		t.Fatalf("sign %s in at the provider: %v", u.Username, err)
	}
	return tok
}

// kubectlRun runs kubectl against kubeconfig and returns stdout, stderr
// and the exit code.
func kubectlRun(t *testing.T, k harness.Kubectl, kubeconfig string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := k.Command(ctx, k.Wires()[0], home, kubeconfig, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	default:
		t.Fatalf("run %s: %v", k.Name(), err)
		return "", "", -1
	}
}

func writeKubeconfig(t *testing.T, tg target, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := harness.WriteKubeconfig(path, tg.URL, tg.CAPEM, harness.User{Token: token}); err != nil {
		t.Fatal(err)
	}
	return path
}

const execScript = `printf 'oidc:%s' "$(echo ok)"; exit 7`

// TestKubectlExecWithIDToken: every kubectl, with the ID token the
// provider issued to alice (group admins) as its kubeconfig's token, runs
// exec through the gateway and serve: the output and the remote exit code
// come back.
func TestKubectlExecWithIDToken(t *testing.T) {
	alice := user("alice")
	tok := token(t, alice)
	for _, tg := range env.targets {
		kc := writeKubeconfig(t, tg, tok)
		for _, k := range env.kubectls {
			t.Run(tg.Name+"/"+k.Name(), func(t *testing.T) {
				out, errOut, code := kubectlRun(t, k, kc, "exec", harness.PodExec, "--", "sh", "-c", execScript)
				if out != "oidc:ok" || code != 7 {
					t.Fatalf("got stdout %q, exit %d (stderr %q); want %q, exit 7", out, code, errOut, "oidc:ok")
				}
			})
		}
	}
}

// TestKubectlExecCredentialPlugin: kubectl gets the ID token from an exec
// credential plugin (as kubelogin and the cloud helpers hand it over).
func TestKubectlExecCredentialPlugin(t *testing.T) {
	tok := token(t, user("alice"))
	dir := t.TempDir()
	cred, _ := json.Marshal(map[string]any{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
		"status": map[string]any{"token": tok}})
	credFile := filepath.Join(dir, "credential.json")
	plugin := filepath.Join(dir, "credential-plugin")
	if err := os.WriteFile(credFile, cred, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\nexec cat '"+credFile+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	k := env.kubectls[len(env.kubectls)-1]
	for _, tg := range env.targets {
		t.Run(tg.Name, func(t *testing.T) {
			cfg := clientcmdapi.NewConfig()
			cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: tg.URL, CertificateAuthorityData: tg.CAPEM}
			cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: plugin,
				APIVersion: "client.authentication.k8s.io/v1", InteractiveMode: clientcmdapi.NeverExecInteractiveMode}}
			cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: "default"}
			cfg.CurrentContext = "x"
			kc := filepath.Join(t.TempDir(), "kubeconfig")
			if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := kubectlRun(t, k, kc, "exec", harness.PodExec, "--", "sh", "-c", execScript)
			if out != "oidc:ok" || code != 7 {
				t.Fatalf("got stdout %q, exit %d (stderr %q); want %q, exit 7", out, code, errOut, "oidc:ok")
			}
		})
	}
}

// get sends GET path to tg with token and returns the status code and
// the Status document's message.
func get(t *testing.T, tg target, path, token string) (int, string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(tg.CAPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, tg.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st struct {
		Message string `json:"message"`
	}
	json.Unmarshal(body, &st)
	if st.Message == "" {
		st.Message = string(body)
	}
	return resp.StatusCode, st.Message
}

// TestRefusedTokens: tokens the provider issued but that must not pass,
// and a token in the issuer's name from another key, are refused with 401
// by the API and by kubectl exec ("You must be logged in").
func TestRefusedTokens(t *testing.T) {
	alice := user("alice")
	expired := func(t *testing.T) string {
		c := env.idp.client(clientID)
		c.lifetime.Store(int64(-time.Minute))
		defer c.lifetime.Store(int64(time.Hour))
		return token(t, alice)
	}
	impostor := func(t *testing.T) string {
		// The impostor answers at the trusted issuer's address, so its
		// tokens name that issuer, signed with its own key.
		tok, err := idToken(context.Background(), env.idp, env.ca.CertPEM, env.impostor.Addr, clientID, clientSecret, alice.Username, alice.Password)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	otherAudience := func(t *testing.T) string {
		tok, err := idToken(context.Background(), env.idp, env.ca.CertPEM, "", otherClient, "other-secret", alice.Username, alice.Password)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tampered := func(t *testing.T) string {
		tok := token(t, alice)
		parts := strings.Split(tok, ".")
		parts[2] = parts[2][:len(parts[2])-4] + "AAAA"
		return strings.Join(parts, ".")
	}
	tests := []struct {
		name  string
		token func(*testing.T) string
	}{
		{"expired", expired},
		{"signed by another key", impostor},
		{"issued for another client", otherAudience},
		{"signature altered", tampered},
		{"not a token", func(*testing.T) string { return "alice-token" }},
	}
	k := env.kubectls[len(env.kubectls)-1]
	for _, tc := range tests {
		tok := tc.token(t)
		for _, tg := range env.targets {
			t.Run(tc.name+"/"+tg.Name, func(t *testing.T) {
				if code, msg := get(t, tg, "/api/v1/namespaces/default/pods", tok); code != http.StatusUnauthorized {
					t.Fatalf("GET pods: got %d %q, want 401", code, msg)
				}
				out, errOut, code := kubectlRun(t, k, writeKubeconfig(t, tg, tok), "exec", harness.PodExec, "--", "echo", "in")
				if code != 1 || out != "" || !strings.Contains(errOut, "You must be logged in to the server") {
					t.Fatalf("kubectl exec: got exit %d, stdout %q, stderr %q; want exit 1 and Unauthorized", code, out, errOut)
				}
			})
		}
	}
	// The same user's fresh token still works: the refusals were the
	// tokens', not the user's.
	if code, msg := get(t, env.targets[0], "/api/v1/namespaces/default/pods", token(t, alice)); code != http.StatusOK {
		t.Fatalf("fresh token: got %d %q, want 200", code, msg)
	}
}

// TestClaimRulesAndRBAC: the provider's groups reach RBAC with the groups
// prefix, and names follow the API server's rules: at the gateway (sub)
// bob is "ISSUER#bob-id", bound to exec by that name; at serve (email,
// never prefixed) he is bob@example.com with only the viewers' reads, so
// exec is 403 naming him. carol's email is unverified: refused (401) where
// the email names users, admitted by her group where sub does.
func TestClaimRulesAndRBAC(t *testing.T) {
	k := env.kubectls[len(env.kubectls)-1]
	tests := []struct {
		user    string
		target  string
		code    int
		wantErr string // in kubectl's stderr; empty: exec succeeds
	}{
		{"bob", "gateway", 0, ""},
		{"bob", "serve", 1, `pods "exec" is forbidden: User "bob@example.com" cannot create resource "pods/exec" in API group "" in the namespace "default"`},
		{"carol", "gateway", 0, ""},
		{"carol", "serve", 1, "You must be logged in to the server"},
	}
	for _, tc := range tests {
		t.Run(tc.user+"/"+tc.target, func(t *testing.T) {
			var tg target
			for _, x := range env.targets {
				if x.Name == tc.target {
					tg = x
				}
			}
			u := user(tc.user)
			tok := token(t, u)
			out, errOut, code := kubectlRun(t, k, writeKubeconfig(t, tg, tok), "exec", harness.PodExec, "--", "sh", "-c", execScript)
			if tc.wantErr == "" {
				if out != "oidc:ok" || code != 7 {
					t.Fatalf("got stdout %q, exit %d (stderr %q); want %q, exit 7", out, code, errOut, "oidc:ok")
				}
			} else if code != tc.code || out != "" || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("got exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tc.code, tc.wantErr)
			}
			if tc.user == "bob" && tc.target == "serve" {
				// bob may still read: his group reached RBAC.
				if code, msg := get(t, tg, "/api/v1/namespaces/default/pods", tok); code != http.StatusOK {
					t.Fatalf("bob GET pods: got %d %q, want 200", code, msg)
				}
			}
			if tc.user == "bob" && tc.target == "gateway" {
				// The gateway's name for bob is the prefixed sub: a pod he
				// may not read says so in his name.
				code, msg := get(t, tg, "/api/v1/namespaces", tok)
				if want := fmt.Sprintf("User %q cannot list resource", tg.UserName(u)); code != http.StatusForbidden || !strings.Contains(msg, want) {
					t.Fatalf("bob GET namespaces: got %d %q, want 403 with %q", code, msg, want)
				}
			}
		})
	}
}

// TestAuditNamesTheProviderUser: the gateway's audit records a session
// opened with an ID token under the user and groups the token mapped to.
func TestAuditNamesTheProviderUser(t *testing.T) {
	alice := user("alice")
	tg := env.targets[0]
	k := env.kubectls[len(env.kubectls)-1]
	marker := fmt.Sprintf("audit-%d", time.Now().UnixNano())
	out, errOut, code := kubectlRun(t, k, writeKubeconfig(t, tg, token(t, alice)), "exec", harness.PodExec, "--", "echo", marker)
	if out != marker+"\n" || code != 0 {
		t.Fatalf("exec: got %q, exit %d, stderr %q", out, code, errOut)
	}
	lines, err := harness.ReadJSONLines(env.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range lines {
		var ev struct {
			Stage, User, Pod string
			Groups, Command  []string
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Stage != "SessionStart" || len(ev.Command) != 2 || ev.Command[1] != marker {
			continue
		}
		found = true
		if ev.User != tg.UserName(alice) || strings.Join(ev.Groups, ",") != "oidc:admins,system:authenticated" || ev.Pod != harness.PodExec {
			t.Fatalf("audit record: user %q groups %q pod %q; want %q [oidc:admins system:authenticated] %q", ev.User, ev.Groups, ev.Pod, tg.UserName(alice), harness.PodExec)
		}
	}
	if !found {
		t.Fatalf("no SessionStart record for %s in:\n%s", marker, bytes.Join(lines, []byte("\n")))
	}
}
