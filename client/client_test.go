package client

import (
	"context"
	"errors"
	"fmt"
	"github.com/porthole/porthole/stream"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ host, path, want string }{
		{"https://h:6443", "/api/v1/namespaces/d/pods/p/exec", "https://h:6443/api/v1/namespaces/d/pods/p/exec?command=a&command=b"},
		{"h:6443", "/x", "https://h:6443/x?command=a&command=b"},
		{"http://h/prefix/", "/x", "http://h/prefix/x?command=a&command=b"},
	} {
		c, err := New(&Config{Host: tc.host})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.url(tc.path, url.Values{"command": {"a", "b"}}); got != tc.want {
			t.Errorf("url(%q, %q) = %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, host := range []string{"", "ftp://h", "https://"} {
		if _, err := New(&Config{Host: host}); err == nil {
			t.Errorf("New(%q): no error", host)
		}
	}
}

func TestHeader(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want http.Header
	}{
		{"bearer", Config{BearerToken: "abc"}, http.Header{"Authorization": {"Bearer abc"}}},
		{"token file wins", Config{BearerToken: "abc", BearerTokenFile: file}, http.Header{"Authorization": {"Bearer from-file"}}},
		{"token source wins", Config{BearerToken: "abc", TokenSource: func(context.Context) (string, error) { return "exec", nil }}, http.Header{"Authorization": {"Bearer exec"}}},
		{"basic", Config{Username: "u", Password: "p"}, http.Header{"Authorization": {"Basic dTpw"}}},
		{"impersonation", Config{Impersonate: "bob", ImpersonateGroups: []string{"g1", "g2"}, Header: http.Header{"X-A": {"1"}}},
			http.Header{"Impersonate-User": {"bob"}, "Impersonate-Group": {"g1", "g2"}, "X-A": {"1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Host = "https://h"
			c, err := New(&tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.header(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("token file rotates", func(t *testing.T) {
		c, _ := New(&Config{Host: "h", BearerTokenFile: file})
		if err := os.WriteFile(file, []byte("second"), 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := c.header(context.Background())
		if err != nil || h.Get("Authorization") != "Bearer second" {
			t.Errorf("got %v, %v; want Bearer second", h, err)
		}
	})
}

func TestIsUpgradeFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"empty 403", stream.NewUpgradeRefusal(WireWebSocket, 403, nil), true},
		{"wrapped 404", fmt.Errorf("exec: %w", stream.NewUpgradeRefusal(WireWebSocket, 404, nil)), true},
		{"subprotocol not offered", stream.NewProtocolMismatch(WireWebSocket, nil, "v4.channel.k8s.io"), true},
		{"malformed 101", &UpgradeError{Wire: WireWebSocket, StatusCode: 101, Err: errors.New("bad accept")}, true},
		{"gorilla https proxy", errors.New("dial: proxy: unknown scheme: https"), true},
		{"spdy refusal", stream.NewUpgradeRefusal(WireSPDY, 403, nil), false},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false},
		{"cancelled", context.Canceled, false},
		{"after 101", errors.New("websocket: close 1006 (abnormal closure)"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isUpgradeFailure(tc.err); got != tc.want {
				t.Errorf("isUpgradeFailure(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
