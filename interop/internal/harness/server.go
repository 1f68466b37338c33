package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Server is a running `porthole serve` with the test manifest, plus the
// recording Proxy kubectl talks through.
type Server struct {
	// Addr is porthole's listen address (127.0.0.1:port), as its
	// kubeconfig names it once it is ready.
	Addr string
	// Kubeconfig is the file porthole wrote (direct to porthole).
	Kubeconfig string
	// ProxyKubeconfig points kubectl at the recording Proxy.
	ProxyKubeconfig string
	// Proxy records the upgrades kubectl makes.
	Proxy *Proxy
	// Config is the client-go configuration for the Kubeconfig.
	Config *rest.Config

	cmd     *exec.Cmd
	group   *ProcGroup
	logPath string
	exited  chan struct{}
	waitErr error
}

// StartServer runs bin (the porthole binary) as `porthole serve` on a
// 127.0.0.1 port of its own choosing (127.0.0.1:0, so that no other
// socket can take the port between a choice and the bind) with Manifest, waits for the kubeconfig it writes and for
// /readyz to answer 200, and starts the Proxy. dir holds the manifest,
// kubeconfigs and the server log; args are more flags (porthole's
// --plain-http, say). The caller must Stop the Server.
func StartServer(ctx context.Context, bin, dir string, args ...string) (*Server, error) {
	return StartServerWith(ctx, bin, dir, Manifest, args...)
}

// StartServerWith is StartServer with another manifest (a YAML stream of
// the objects `porthole serve -f` takes).
func StartServerWith(ctx context.Context, bin, dir, objects string, args ...string) (*Server, error) {
	manifest := filepath.Join(dir, "pods.yaml")
	if err := os.WriteFile(manifest, []byte(objects), 0o644); err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	s := &Server{
		Kubeconfig:      filepath.Join(dir, "porthole.kubeconfig"),
		ProxyKubeconfig: filepath.Join(dir, "proxy.kubeconfig"),
		logPath:         filepath.Join(dir, "porthole.log"),
		exited:          make(chan struct{}),
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "-f", manifest, "--write-kubeconfig", s.Kubeconfig)
	s.cmd.Args = append(s.cmd.Args, args...)
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	// Own process group, so a crash of porthole does not leave its pods'
	// processes behind after Stop.
	s.cmd.SysProcAttr = OwnGroup()
	if err := startHeld(s.cmd, s.exited); err != nil {
		return nil, fmt.Errorf("start porthole: %w", err)
	}
	s.group = NewProcGroup(s.cmd)
	go s.wait()
	if err := s.awaitReady(ctx); err != nil {
		s.kill()
		return nil, fmt.Errorf("%w\nporthole log:\n%s", err, s.LogTail(4096))
	}
	return s, nil
}

func (s *Server) wait() {
	s.waitErr = s.group.Wait()
	close(s.exited)
}

// awaitReady polls for the kubeconfig file and then /readyz. Polling is the
// only signal a separate process offers; the deadline bounds it.
func (s *Server) awaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("porthole exited before ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("porthole not ready: %w (last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
		if last = s.probe(ctx); last == nil {
			return nil
		}
	}
}

func (s *Server) probe(ctx context.Context) error {
	if s.Config == nil {
		cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
		if err != nil {
			return fmt.Errorf("load kubeconfig: %w", err)
		}
		u, err := url.Parse(cfg.Host)
		if err != nil {
			return fmt.Errorf("parse server URL %q: %w", cfg.Host, err)
		}
		s.Config, s.Addr = cfg, u.Host
	}
	tr, err := rest.TransportFor(s.Config)
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.Config.Host, "/")+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("GET /readyz: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: status %d", resp.StatusCode)
	}
	if s.Proxy == nil {
		if err := s.startProxy(); err != nil {
			return err
		}
	}
	return nil
}

// startProxy starts the recording proxy toward the server porthole's
// kubeconfig names and writes ProxyKubeconfig: porthole's kubeconfig with
// the server (and CA, if TLS) replaced by the proxy's.
func (s *Server) startProxy() error {
	u, err := url.Parse(s.Config.Host)
	if err != nil {
		return fmt.Errorf("parse server URL %q: %w", s.Config.Host, err)
	}
	var upTLS *tls.Config
	if u.Scheme == "https" {
		c, err := rest.TLSConfigFor(s.Config)
		if err != nil {
			return fmt.Errorf("upstream TLS config: %w", err)
		}
		upTLS = c
	}
	p, err := NewProxy(u.Host, upTLS)
	if err != nil {
		return err
	}
	raw, err := clientcmd.LoadFromFile(s.Kubeconfig)
	if err != nil {
		p.Close()
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	for _, c := range raw.Clusters {
		c.Server = p.URL()
		if p.CACertPEM() != nil {
			c.CertificateAuthority = ""
			c.CertificateAuthorityData = p.CACertPEM()
			c.InsecureSkipTLSVerify = false
			c.TLSServerName = ""
		}
	}
	if err := clientcmd.WriteToFile(*raw, s.ProxyKubeconfig); err != nil {
		p.Close()
		return fmt.Errorf("write proxy kubeconfig: %w", err)
	}
	s.Proxy = p
	return nil
}

// PID is the porthole process id, for resource checks read from /proc.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Alive reports whether the porthole process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// LogTail returns the last n bytes of porthole's combined output.
func (s *Server) LogTail(n int) string { return tailFile(s.logPath, n) }

// Stop stops the proxy, sends porthole SIGTERM and requires it to exit with
// status 0 within 30 s; otherwise it kills the process group and reports
// why. Either way no process of the group is left behind.
func (s *Server) Stop() error {
	var errs []error
	if s.Proxy != nil {
		if err := s.Proxy.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close proxy: %w", err))
		}
	}
	if !s.Alive() {
		errs = append(errs, fmt.Errorf("porthole exited during the tests: %v", s.waitErr))
	} else {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				errs = append(errs, fmt.Errorf("porthole did not exit cleanly on SIGTERM: %v", s.waitErr))
			}
		case <-time.After(30 * time.Second):
			errs = append(errs, errors.New("porthole did not exit within 30s of SIGTERM"))
		}
	}
	s.kill()
	if len(errs) > 0 {
		errs = append(errs, fmt.Errorf("porthole log tail:\n%s", s.LogTail(4096)))
	}
	return errors.Join(errs...)
}

// kill ends porthole's whole process group and waits for porthole.
func (s *Server) kill() {
	s.group.Signal(syscall.SIGKILL)
	<-s.exited
}
