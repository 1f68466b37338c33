package criref

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
)

var portListCases = []struct {
	name   string
	values []string
	want   []int32
	ok     bool
}{
	{"none", nil, nil, true},
	{"one", []string{"80"}, []int32{80}, true},
	{"repeated and comma separated", []string{"80,443", "8080"}, []int32{80, 443, 8080}, true},
	{"spaces", []string{" 80 , 443"}, []int32{80, 443}, true},
	{"max", []string{"65535"}, []int32{65535}, true},
	{"zero", []string{"0"}, nil, false},
	{"too big", []string{"65536"}, nil, false},
	{"negative", []string{"-1"}, nil, false},
	{"empty element", []string{"80,"}, nil, false},
	{"word", []string{"http"}, nil, false},
	{"too many", []string{strings.Repeat("1,", maxPorts) + "1"}, nil, false},
}

func TestParsePortList(t *testing.T) {
	for _, c := range portListCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parsePortList(c.values)
			if (err == nil) != c.ok {
				t.Fatalf("got error %v, want ok=%v", err, c.ok)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// FuzzParsePortList: never panics, accepted ports are 1..65535 and at most
// maxPorts, and formatting them back parses to the same list.
func FuzzParsePortList(f *testing.F) {
	for _, c := range portListCases {
		f.Add(strings.Join(c.values, "&"))
	}
	f.Fuzz(func(t *testing.T, joined string) {
		ports, err := parsePortList(strings.Split(joined, "&"))
		if err != nil {
			return
		}
		if len(ports) > maxPorts {
			t.Fatalf("%d ports accepted", len(ports))
		}
		parts := make([]string, len(ports))
		for i, p := range ports {
			if p < 1 || p > 65535 {
				t.Fatalf("port %d accepted", p)
			}
			parts[i] = strconv.Itoa(int(p))
		}
		if len(ports) == 0 {
			return
		}
		again, err := parsePortList([]string{strings.Join(parts, ",")})
		if err != nil || !slices.Equal(again, ports) {
			t.Fatalf("round trip of %v: got %v, %v", ports, again, err)
		}
	})
}

// TestKubeletPaths execs through the kubelet-style URL (flags "=1"), over
// WS v5 (translated) and SPDY (proxied).
func TestKubeletPaths(t *testing.T) {
	s := startServer(t, nil)
	q := url.Values{"command": {"sh", "-c", "cat; echo done >&2; exit 4"}, "input": {"1"}, "output": {"1"}, "error": {"1"}}
	u := s.URL() + "/exec/default/ref/main?" + q.Encode()
	cfg := &rest.Config{Host: s.URL()}
	executors := map[string]func() (remotecommand.Executor, error){
		"websocket-v5-translator": func() (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(cfg, "GET", u)
		},
		"spdy-front-proxy": func() (remotecommand.Executor, error) {
			pu, _ := url.Parse(u)
			return remotecommand.NewSPDYExecutor(cfg, "POST", pu)
		},
	}
	for name, mk := range executors {
		t.Run(name, func(t *testing.T) {
			e, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err = e.StreamWithContext(t.Context(), remotecommand.StreamOptions{
				Stdin: strings.NewReader("kubelet path\n"), Stdout: &stdout, Stderr: &stderr,
			})
			var ee exec.CodeExitError
			if !errors.As(err, &ee) || ee.Code != 4 {
				t.Fatalf("got %v, want exit code 4", err)
			}
			if got, want := stdout.String()+"|"+stderr.String(), "kubelet path\n|done\n"; got != want {
				t.Errorf("stdout|stderr: got %q, want %q", got, want)
			}
		})
	}
}

// TestFrontRefusals: requests the kubelet refuses before any upgrade.
func TestFrontRefusals(t *testing.T) {
	s := startServer(t, nil)
	cases := []struct {
		name, path string
		code       int
		body       string
	}{
		{"no streams", "/exec/default/ref/main?command=true", http.StatusBadRequest, "you must specify at least 1 of stdin, stdout, stderr"},
		{"no streams api", "/api/v1/namespaces/default/pods/ref/exec?command=true&stdout=false", http.StatusBadRequest, "you must specify at least 1 of stdin, stdout, stderr"},
		{"bad port", "/portForward/default/ref?port=0", http.StatusBadRequest, `invalid port "0"`},
		{"bad ports api", "/api/v1/namespaces/default/pods/ref/portforward?ports=http", http.StatusBadRequest, `invalid port "http"`},
		{"used token", "/cri/exec/AAAAAAAA", http.StatusNotFound, "404 page not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(s.URL()+c.path, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code || strings.TrimSpace(string(body)) != c.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, c.code, c.body)
			}
		})
	}
}

// TestTokenSingleUse: a one-time URL serves one exec, then 404.
func TestTokenSingleUse(t *testing.T) {
	s := startServer(t, nil)
	u, err := s.ExecURL(execReq("true"))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdyExecutor(t, s, u).StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard}); err != nil {
		t.Fatalf("first use: %v", err)
	}
	err = spdyExecutor(t, s, u).StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "404 page not found") {
		t.Fatalf("second use: got %v, want the library's 404", err)
	}
}

// TestDirectPath: SPDY exec under DirectPrefix is answered by the CRI
// server on the caller's own connection (one accepted connection), where
// the API-server path raw-proxies it over a second one; WebSocket v5 is
// still translated there.
func TestDirectPath(t *testing.T) {
	s := startServer(t, nil)
	q := url.Values{"command": {"sh", "-c", "cat; echo done >&2; exit 4"}, "stdin": {"true"}, "stdout": {"true"}, "stderr": {"true"}}
	path := "/api/v1/namespaces/default/pods/ref/exec?" + q.Encode()
	cfg := &rest.Config{Host: s.URL()}
	spdyExec := func(u string) (remotecommand.Executor, error) {
		pu, _ := url.Parse(u)
		return remotecommand.NewSPDYExecutor(cfg, "POST", pu)
	}
	wsExec := func(u string) (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutor(cfg, "GET", u)
	}
	for _, c := range []struct {
		name  string
		path  string
		mk    func(string) (remotecommand.Executor, error)
		conns int64
	}{
		{"spdy direct", DirectPrefix + path, spdyExec, 1},
		{"spdy through the proxy", path, spdyExec, 2},
		{"websocket v5 direct, translated", DirectPrefix + path, wsExec, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := c.mk(s.URL() + c.path)
			if err != nil {
				t.Fatal(err)
			}
			before := s.lis.accepted.Load()
			var stdout, stderr bytes.Buffer
			err = e.StreamWithContext(t.Context(), remotecommand.StreamOptions{
				Stdin: strings.NewReader("direct\n"), Stdout: &stdout, Stderr: &stderr,
			})
			var ee exec.CodeExitError
			if !errors.As(err, &ee) || ee.Code != 4 {
				t.Fatalf("got %v, want exit code 4", err)
			}
			if got, want := stdout.String()+"|"+stderr.String(), "direct\n|done\n"; got != want {
				t.Errorf("stdout|stderr: got %q, want %q", got, want)
			}
			if got := s.lis.accepted.Load() - before; got != c.conns {
				t.Errorf("accepted %d connections, want %d", got, c.conns)
			}
		})
	}
}
