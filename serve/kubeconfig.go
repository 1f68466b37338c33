package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/porthole/porthole/kube/kubeconfig"
)

// kubeconfigTarget is where Run writes its kubeconfig, and what to tell the
// user about it. A file at want is replaced only when it is serve's own
// (context defaultContext) for this same server, or for a server that no
// longer answers (a restart on another port), saying so. A kubeconfig of
// another serve still running, or one serve did not write, is left alone:
// the new one goes beside it, named after the port, and the note says where.
func kubeconfigTarget(want, server string, alive func(server string) bool) (path, note string) {
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: want})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return want, ""
	case err == nil && cc.Context == defaultContext && sameAddr(cc.Server, server):
		return want, "" // ours: this very address (perhaps http before, https now)
	case err == nil && cc.Context == defaultContext && !alive(cc.Server):
		return want, fmt.Sprintf("replaced the kubeconfig of %s, which no longer answers", cc.Server)
	}
	port := "serve"
	if u, perr := url.Parse(server); perr == nil && u.Port() != "" {
		port = u.Port()
	}
	path = want + "-" + port
	why := "porthole serve did not write it"
	if err == nil && cc.Context == defaultContext {
		why = "another porthole serve (" + cc.Server + ") still uses it"
	}
	return path, fmt.Sprintf("left %s alone (%s); this server's kubeconfig is %s", want, why, path)
}

// sameAddr reports whether two server URLs name the same host and port,
// whatever their schemes: this server now holds that address.
func sameAddr(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host == ub.Host
}

// answers reports whether a server still answers /healthz on loopback
// (its certificate is not checked: only whether something serves there).
func answers(server string) bool {
	u, err := url.Parse(server)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return true // not ours to probe: assume it lives
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/healthz", nil)
	if err != nil {
		return false
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}
