package protocol

import (
	"net/url"
	"testing"
)

// TestKubeletQuery: the kubelet's flags count only as exactly "1"; ports
// join into one parameter.
func TestKubeletQuery(t *testing.T) {
	for _, tc := range []struct {
		verb, query, container, want string
	}{
		{"exec", "command=ls&command=-l&input=1&output=1&error=true&tty=0", "c", "command=ls&command=-l&container=c&stdin=true&stdout=true"},
		{"attach", "input=1&tty=1", "c", "container=c&stdin=true&tty=true"},
		{"portforward", "port=80&port=443", "", "ports=80%2C443"},
		{"portforward", "", "", ""},
	} {
		q, _ := url.ParseQuery(tc.query)
		if got := KubeletQuery(tc.verb, q, tc.container).Encode(); got != tc.want {
			t.Errorf("%s?%s: got %q, want %q", tc.verb, tc.query, got, tc.want)
		}
	}
}
