package node

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/porthole/porthole/protocol"
)

func TestQueryBool(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"stdin=true", true}, {"stdin=1", true}, {"stdin=", true}, {"stdin", true},
		{"stdin=false", false}, {"stdin=FALSE", false}, {"stdin=0", false},
		{"stdin=false&stdin=true", false}, {"", false}, {"stdin=yes", true},
	}
	for _, tc := range tests {
		q, _ := url.ParseQuery(tc.raw)
		if got := protocol.QueryBool(q, "stdin"); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.raw, got, tc.want)
		}
	}
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in   []string
		want []uint16
		ok   bool
	}{
		{[]string{"80", "443"}, []uint16{80, 443}, true},
		{[]string{"80,443", "8080"}, []uint16{80, 443, 8080}, true},
		{[]string{" 80 , 443 "}, []uint16{80, 443}, true},
		{nil, nil, true},
		{[]string{"0"}, nil, false},
		{[]string{"65536"}, nil, false},
		{[]string{"+80"}, nil, false},
		{[]string{"080"}, []uint16{80}, true}, // strconv.ParseUint, like the kubelet
		{[]string{"http"}, nil, false},
	}
	for _, tc := range tests {
		got, err := parsePorts(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseRequestDropsStderrWithTTY(t *testing.T) {
	r := httptest.NewRequest("GET", "/x?command=sh&stdin=true&stdout=true&stderr=true&tty=true", nil)
	req, herr := parseRequest(r, "exec")
	if herr != nil || req.stderr || !req.tty || !req.stdin || !slices.Equal(req.command, []string{"sh"}) {
		t.Fatalf("got %+v, %v", req, herr)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"command=sh&stdout=true", "stdin=1&tty=1", "ports=80,443", "command=a&command=b&stderr=false&stdout", "dryRun=All"} {
		f.Add(s, "exec")
		f.Add(s, "portforward")
	}
	f.Fuzz(func(t *testing.T, rawQuery, verb string) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.URL.RawQuery = rawQuery
		req, herr := parseRequest(r, verb)
		if herr != nil {
			if herr.Status.Code != 400 || herr.Status.Message == "" {
				t.Fatalf("bad refusal %+v", herr.Status)
			}
			return
		}
		if verb == "portforward" {
			for _, p := range req.ports {
				if p == 0 {
					t.Fatal("port 0 accepted")
				}
			}
			return
		}
		if !req.stdin && !req.stdout && !req.stderr {
			t.Fatal("accepted a request with no stream")
		}
		if req.tty && req.stderr {
			t.Fatal("stderr kept with a tty")
		}
		if verb == "exec" && len(req.command) == 0 {
			t.Fatal("exec accepted without a command")
		}
	})
}
