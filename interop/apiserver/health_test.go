package apiserver

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// TestSameHealthChecks: porthole serve's /livez, /healthz and /readyz read
// as the API server's, verbose or not, with checks excluded or asked for
// one by one: every line porthole writes, the API server writes too (it
// has more checks: etcd, its post-start hooks), and both end alike.
func TestSameHealthChecks(t *testing.T) {
	srv := startServe(t)
	for _, path := range []string{"/livez", "/healthz", "/readyz", "/readyz/ping", "/livez/ping",
		"/livez?verbose", "/healthz?verbose", "/readyz?verbose", "/readyz?verbose&exclude=ping&exclude=nope&exclude=also"} {
		var answers [2]string
		var codes [2]int
		for i, cfg := range []*rest.Config{env.cp.Config, srv.Config} {
			code, raw := send(t, cfg, "GET", path, "", "")
			codes[i], answers[i] = code, string(raw)
		}
		theirs, ours := strings.Split(answers[0], "\n"), strings.Split(answers[1], "\n")
		for _, line := range ours {
			if !slices.Contains(theirs, line) {
				t.Errorf("%s: porthole's line %q is not the API server's:\n%s", path, line, answers[0])
			}
		}
		last := func(s string) string { return s[strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n")+1:] }
		if codes[0] != codes[1] || last(answers[0]) != last(answers[1]) {
			t.Errorf("%s:\nporthole: %d %q\nthe API server: %d %q", path, codes[1], answers[1], codes[0], answers[0])
		}
	}
}
