package serve

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/kubeconfig"
	"github.com/porthole/porthole/node"
)

// Run starts the runtime, writes the kubeconfig, prints the banner and
// serves until ctx is done or serving fails. Then it stops accepting,
// gives running requests and sessions ShutdownTimeout to end, cuts the
// rest, closes the runtime, and returns once everything it started has
// ended. A clean shutdown returns nil. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("serve: Run called twice")
	}
	s.ran = true
	s.mu.Unlock()

	if err := s.rt.Start(ctx); err != nil {
		return errors.Join(fmt.Errorf("start runtime: %w", err), s.closeIdle())
	}
	if err := s.cluster.Start(ctx); err != nil {
		return errors.Join(fmt.Errorf("start cluster: %w", err), s.closeIdle())
	}
	path, note := s.opts.KubeconfigPath, ""
	if path != "" {
		path, note = kubeconfigTarget(path, s.URL(), answers)
		kc := kubeconfig.New(s.URL(), defaultContext, kube.DefaultNamespace)
		if len(s.opts.KubeconfigCA) > 0 {
			kc.Clusters[0].Cluster.CertificateAuthorityData = base64.StdEncoding.EncodeToString(s.opts.KubeconfigCA)
		}
		kc.Users[0].User.Token = s.opts.KubeconfigToken
		if err := kubeconfig.WriteFile(path, kc); err != nil {
			return errors.Join(err, s.closeIdle())
		}
	}
	served := make(chan error, 1)
	go s.serve(served)
	var innerServed chan error
	if s.sec != nil {
		innerServed = make(chan error, 1)
		go s.sec.serve(innerServed)
	}
	s.log.Info("serving", "addr", s.Addr().String(), "kubeconfig", path)
	if s.opts.Out != nil {
		if note != "" {
			fmt.Fprintf(s.opts.Out, "kubeconfig: %s\n", note)
		}
		writeBanner(s.opts.Out, s.URL(), path, s.example)
		for _, n := range s.opts.Notes {
			fmt.Fprintln(s.opts.Out, n)
		}
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	err := s.shutdown()
	if innerServed != nil {
		if ierr := <-innerServed; !errors.Is(ierr, http.ErrServerClosed) {
			err = errors.Join(err, fmt.Errorf("serve gateway upstream: %w", ierr))
		}
	}
	if serveErr == nil {
		serveErr = <-served // Serve returns ErrServerClosed once Shutdown begins
		if errors.Is(serveErr, http.ErrServerClosed) {
			serveErr = nil
		}
	}
	if serveErr != nil {
		serveErr = fmt.Errorf("serve: %w", serveErr)
	}
	return errors.Join(serveErr, err)
}

// serve runs the HTTP server on the listener and reports how it ended.
func (s *Server) serve(done chan<- error) {
	done <- s.srv.Serve(s.ln)
}

// shutdown stops the HTTP server and the node's sessions (together, with
// ShutdownTimeout of grace), cancels every request context left, and
// closes the runtime.
func (s *Server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	s.cluster.Stop() // ends the watches, which would hold Shutdown up
	nodeDone := make(chan error, 1)
	go s.shutdownNode(ctx, nodeDone)
	httpErr := s.srv.Shutdown(ctx)
	if errors.Is(httpErr, context.DeadlineExceeded) {
		httpErr = s.srv.Close() // cut requests still running; their contexts end below
	}
	var secErr error
	if s.sec != nil {
		// The node ends the sessions it still runs with a failure status
		// once the grace is over; the gateway waits that long again so
		// the statuses reach the clients through it before it cuts.
		gctx, gcancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout+node.StatusGrace+time.Second)
		secErr = s.sec.shutdown(gctx)
		gcancel()
	}
	s.cancel()
	nodeErr := <-nodeDone
	if errors.Is(nodeErr, context.DeadlineExceeded) {
		nodeErr = nil // sessions that outlived the grace were aborted and joined
	}
	rtErr := s.rt.Close()
	s.cluster.Wait()
	if httpErr != nil {
		httpErr = fmt.Errorf("shut down http: %w", httpErr)
	}
	if nodeErr != nil {
		nodeErr = fmt.Errorf("shut down node: %w", nodeErr)
	}
	if rtErr != nil {
		rtErr = fmt.Errorf("close runtime: %w", rtErr)
	}
	return errors.Join(httpErr, nodeErr, rtErr, secErr)
}

// shutdownNode ends the node's upgraded and in-process sessions, which
// http.Server does not track.
func (s *Server) shutdownNode(ctx context.Context, done chan<- error) {
	done <- s.node.Shutdown(ctx)
}

// Close releases a Server whose Run was never called: the listener and
// the runtime. After Run it does nothing (Run cleans up itself).
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ran {
		return nil
	}
	s.ran = true
	return s.closeIdle()
}

// closeIdle releases what New acquired when no request was ever served.
func (s *Server) closeIdle() error {
	s.cancel()
	var secErr error
	if s.sec != nil {
		secErr = s.sec.closeIdle()
	}
	s.cluster.Stop()
	rtErr := s.rt.Close()
	s.cluster.Wait()
	return errors.Join(s.ln.Close(), rtErr, secErr)
}
