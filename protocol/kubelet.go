package protocol

import (
	"net/url"
	"strings"
)

// KubeletPath is one of the kubelet's streaming paths (PROTOCOL.md 2.2), as
// an http.ServeMux pattern, and the verb it serves:
//
//	/exec/{namespace}/{pod}[/{uid}]/{container}?command=...&input=1&output=1&error=1&tty=1
//	/attach/{namespace}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1
//	/portForward/{namespace}/{pod}[/{uid}]?port=80&port=443
type KubeletPath struct {
	Verb    string // "exec", "attach", "portforward"
	Pattern string
}

// KubeletPaths are every kubelet streaming path.
var KubeletPaths = []KubeletPath{
	{"exec", "/exec/{namespace}/{pod}/{container}"},
	{"exec", "/exec/{namespace}/{pod}/{uid}/{container}"},
	{"attach", "/attach/{namespace}/{pod}/{container}"},
	{"attach", "/attach/{namespace}/{pod}/{uid}/{container}"},
	{"portforward", "/portForward/{namespace}/{pod}"},
	{"portforward", "/portForward/{namespace}/{pod}/{uid}"},
}

// KubeletQuery maps a kubelet path's query (and its container) onto the
// API server's parameters: input, output, error and tty are true only when
// exactly "1", as the kubelet reads them; the ports of a port-forward are
// joined into one ports parameter.
func KubeletQuery(verb string, q url.Values, container string) url.Values {
	out := url.Values{}
	if verb == "portforward" {
		if p := q["port"]; len(p) > 0 {
			out["ports"] = []string{strings.Join(p, ",")}
		}
		return out
	}
	out.Set("container", container)
	if c := q["command"]; len(c) > 0 {
		out["command"] = c
	}
	for kubelet, api := range map[string]string{"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"} {
		if q.Get(kubelet) == "1" {
			out.Set(api, "true")
		}
	}
	return out
}
