package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/porthole/porthole/interop/internal/harness"
)

func restConfig(g *gatewayProc, token string) *rest.Config {
	return &rest.Config{Host: g.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: topo.caPEM}}
}

func execURL(g *gatewayProc, command ...string) *url.URL {
	u, _ := url.Parse(g.URL)
	u.Path = "/api/v1/namespaces/" + harness.Namespace + "/pods/" + harness.PodExec + "/exec"
	q := url.Values{"command": command, "stdout": {"true"}, "stderr": {"true"}}
	u.RawQuery = q.Encode()
	return u
}

func executor(t *testing.T, wire string, cfg *rest.Config, u *url.URL) remotecommand.Executor {
	t.Helper()
	var e remotecommand.Executor
	var err error
	if wire == "websocket" {
		e, err = remotecommand.NewWebSocketExecutor(cfg, http.MethodGet, u.String())
	} else {
		e, err = remotecommand.NewSPDYExecutor(cfg, http.MethodPost, u)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func stream(t *testing.T, e remotecommand.Executor, opts remotecommand.StreamOptions) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	err := e.StreamWithContext(ctx, opts)
	if ctx.Err() != nil {
		t.Fatalf("session did not end within %v: %v", cmdTimeout, err)
	}
	return err
}

// TestClientGo: client-go's WebSocket and SPDY executors through both
// gateways: output and exit codes as utilexec.CodeExitError (the
// translator's NonZeroExitCode status toward the SPDY-only upstream).
func TestClientGo(t *testing.T) {
	for _, up := range upstreams() {
		t.Run(up.name, func(t *testing.T) {
			cfg := restConfig(up.gw, "alice-token")
			for _, wire := range []string{"websocket", "spdy"} {
				t.Run(wire, func(t *testing.T) {
					for _, code := range []int{0, 42} {
						var out, errOut bytes.Buffer
						u := execURL(up.gw, "sh", "-c", fmt.Sprintf("printf out; printf err >&2; exit %d", code))
						err := stream(t, executor(t, wire, cfg, u), remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
						var ce utilexec.CodeExitError
						switch {
						case code == 0 && err != nil:
							t.Errorf("exit 0: %v", err)
						case code != 0 && (!errors.As(err, &ce) || ce.Code != code):
							t.Errorf("exit %d: got %T %v", code, err, err)
						}
						if out.String() != "out" || errOut.String() != "err" {
							t.Errorf("exit %d: stdout %q stderr %q", code, out.String(), errOut.String())
						}
					}
				})
			}
		})
	}
}

// TestSecurity runs the security cases against the running binary.
func TestSecurity(t *testing.T) {
	gw := topo.toKubelet
	u := execURL(gw, "echo", "hi")
	t.Run("no-credentials-401", func(t *testing.T) {
		for _, wire := range []string{"websocket", "spdy"} {
			err := stream(t, executor(t, wire, restConfig(gw, ""), u), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
			if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
				t.Errorf("%s: got %v, want Unauthorized", wire, err)
			}
		}
	})
	t.Run("get-only-cannot-open-websocket-exec", func(t *testing.T) {
		err := stream(t, executor(t, "websocket", restConfig(gw, "bob-token"), u), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
		want := `cannot create resource "pods/exec"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want a 403 naming create on pods/exec", err)
		}
	})
	t.Run("cross-origin-page-refused", func(t *testing.T) {
		resp := rawExchange(t, gw, "GET "+u.RequestURI()+" HTTP/1.1\r\nHost: "+strings.TrimPrefix(gw.URL, "https://")+
			"\r\nAuthorization: Bearer alice-token\r\nOrigin: https://evil.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n")
		if !strings.HasPrefix(resp, "HTTP/1.1 403 ") || !strings.Contains(resp, `origin \"https://evil.example\" is not allowed`) {
			t.Errorf("got %q", resp)
		}
	})
	t.Run("smuggled-request-after-refused-upgrade", func(t *testing.T) {
		// The upstream refuses (no such pod); the pipelined request must not
		// be answered: one response, then the gateway closes.
		bad := strings.Replace(u.RequestURI(), "/pods/exec/", "/pods/nope/", 1)
		resp := rawExchange(t, topo.toNode, "POST "+bad+" HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer alice-token\r\n"+
			"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"+
			"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: gw\r\n\r\n")
		if !strings.HasPrefix(resp, "HTTP/1.1 404 ") || strings.Count(resp, "HTTP/1.1 ") != 1 || strings.Contains(resp, "PodList") {
			t.Errorf("got %q, want the upstream's 404 alone", resp)
		}
	})
}

// rawExchange writes raw over TLS to g and reads until the gateway closes
// the connection (bounded).
func rawExchange(t *testing.T, g *gatewayProc, raw string) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(topo.caPEM)
	c, err := tls.Dial("tcp", strings.TrimPrefix(g.URL, "https://"), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		t.Fatalf("read until close: %v (got %q)", err, b)
	}
	return string(b)
}
