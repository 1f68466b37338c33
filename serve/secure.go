package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/web"
)

// secured is the gateway in front of the server when Options.Gateway is
// set: the gateway answers on the public listener and reaches the node and
// API through a unix socket in a private directory, so nothing but the
// gateway can talk to them unauthenticated.
type secured struct {
	gw *gateway.Gateway
	// recordings is the gateway's recording directory, served to the
	// web terminal's player ("" when not recording).
	recordings string
	// signIn: the gateway verifies credentials, so the page offers to
	// sign in.
	signIn bool
	dir    string
	inner  net.Listener
	srv    *http.Server
}

// authenticated reports whether opts turn authentication on, which lets
// the server listen beyond loopback.
func authenticated(o *gateway.Options) bool {
	return o != nil && (o.Tokens != nil || o.ClientCertificates || o.SignIn != nil)
}

// newSecured binds the inner socket and builds the gateway toward it.
func newSecured(opts *gateway.Options, inner http.Handler, sessions gateway.SessionServer) (_ *secured, err error) {
	dir, err := os.MkdirTemp("", "porthole-serve-")
	if err != nil {
		return nil, fmt.Errorf("gateway socket directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	sock := filepath.Join(dir, "node.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("listen on gateway socket: %w", err)
	}
	o := *opts
	o.Upstream = &url.URL{Scheme: "http", Host: "porthole-node"}
	// The Secrets behind are serve's own, which its pods read.
	o.Secrets = true
	if o.KubeletNode == "" {
		o.KubeletNode = kube.LocalNodeName // the node the local runtime's pods are bound to
	}
	o.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}
	// Sessions the gateway splices reach the node without the socket: the
	// node serves them on the client's connection (gateway.Options.InProcess).
	o.InProcess = inner
	// Sessions it bridges (resumable, joinable) run on the node through an
	// in-process session, without the socket either.
	o.InProcessSessions = sessions
	gw, err := gateway.New(&o)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: inner, ReadHeaderTimeout: 30 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	sec := &secured{gw: gw, dir: dir, inner: ln, srv: srv, signIn: authenticated(opts)}
	if opts.Recorder != nil {
		sec.recordings = opts.Recorder.Dir
	}
	return sec, nil
}

// serve runs the inner server and reports how it ended.
func (s *secured) serve(done chan<- error) { done <- s.srv.Serve(s.inner) }

// shutdown ends the gateway's sessions (grace until ctx), then the inner
// server, and removes the socket directory.
func (s *secured) shutdown(ctx context.Context) error {
	gwErr := s.gw.Shutdown(ctx)
	if errors.Is(gwErr, context.DeadlineExceeded) {
		gwErr = nil // sessions past the grace were cut and joined
	}
	innerErr := s.srv.Shutdown(ctx)
	if errors.Is(innerErr, context.DeadlineExceeded) {
		innerErr = s.srv.Close()
	}
	return errors.Join(gwErr, innerErr, os.RemoveAll(s.dir))
}

// closeIdle releases what newSecured acquired when Run never served.
func (s *secured) closeIdle() error {
	return errors.Join(s.inner.Close(), os.RemoveAll(s.dir))
}

// wrapTLS puts TLS on ln when cfg is set (HTTP/1.1 only: upgrades cannot
// run over HTTP/2).
func wrapTLS(ln net.Listener, cfg *tls.Config) net.Listener {
	if cfg == nil {
		return ln
	}
	c := cfg.Clone()
	c.NextProtos = []string{"http/1.1"}
	return tls.NewListener(ln, c)
}

// site is the handler clients reach: the web terminal (its page, and its
// recordings behind the gateway's authentication) beside the gateway.
func (s *secured) site(log *slog.Logger) http.Handler {
	opts := &web.SiteOptions{Authenticate: s.gw.Authenticated, User: gateway.UserName, SignIn: s.signIn, Logger: log}
	if s.recordings != "" {
		opts.RecordingDir = s.recordings
	}
	return s.gw.Guard(web.Site(s.gw, opts))
}
