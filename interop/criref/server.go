package criref

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
)

// Options configure Start. The zero value is usable.
type Options struct {
	// Addr is the listen address; default 127.0.0.1:0.
	Addr string
	// Containers are started before Start returns, for attach.
	Containers []Container
	// Logger receives the reference node's own log lines; nil discards
	// them. The Kubernetes libraries log through klog.
	Logger *slog.Logger
}

// Server is a running reference node. All its methods are safe for
// concurrent use.
type Server struct {
	base    *url.URL // http://127.0.0.1:port
	cri     streaming.Server
	runtime *Runtime
	lis     *trackingListener
	http    *http.Server
	serving sync.WaitGroup
	stopCtx func() bool
	log     *slog.Logger
}

// criPrefix is where the cri-streaming handler lives on the shared
// listener; its one-time URLs are base + criPrefix + "exec/TOKEN".
const criPrefix = "/cri/"

// Start listens, starts the declared containers and serves until ctx ends
// or Close is called. Close must be called in either case to join.
func Start(ctx context.Context, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s := &Server{
		base:    &url.URL{Scheme: "http", Host: l.Addr().String()},
		runtime: NewRuntime(log),
		lis:     newTrackingListener(l),
		log:     log,
	}
	if err := s.init(opts); err != nil {
		_ = l.Close()
		_ = s.runtime.Close()
		return nil, err
	}
	s.serving.Add(1)
	go s.serve()
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.http.Close() })
	return s, nil
}

// init builds the CRI server and the front and starts the containers.
func (s *Server) init(opts *Options) error {
	cfg := streaming.DefaultConfig
	cfg.Addr = s.base.Host
	cfg.BaseURL = s.base.ResolveReference(&url.URL{Path: criPrefix})
	cri, err := streaming.NewServer(cfg, s.runtime)
	if err != nil {
		return fmt.Errorf("new cri streaming server: %w", err)
	}
	s.cri = cri
	mux := http.NewServeMux()
	mux.Handle(criPrefix, cri)
	s.routeFront(mux)
	s.routeControl(mux)
	s.http = &http.Server{Handler: mux}
	for _, c := range opts.Containers {
		if err := s.runtime.StartContainer(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) serve() {
	defer s.serving.Done()
	if err := s.http.Serve(s.lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("serve", "err", err)
	}
}

// URL is the front's base URL, e.g. http://127.0.0.1:40123. Exec there as
// at an API server (/api/v1/namespaces/NS/pods/POD/exec?command=...&stdout=true)
// or at a kubelet (/exec/NS/POD/CONTAINER?command=...&output=1).
func (s *Server) URL() string { return s.base.String() }

// ExecURL asks the CRI server for a one-time exec URL, as the kubelet does
// over gRPC. The URL speaks SPDY (v4..v1) and the legacy WebSocket
// protocols, not v5.
func (s *Server) ExecURL(req *runtimeapi.ExecRequest) (string, error) {
	resp, err := s.cri.GetExec(req)
	if err != nil {
		return "", fmt.Errorf("get exec url: %w", err)
	}
	return resp.Url, nil
}

// AttachURL is ExecURL for attach.
func (s *Server) AttachURL(req *runtimeapi.AttachRequest) (string, error) {
	resp, err := s.cri.GetAttach(req)
	if err != nil {
		return "", fmt.Errorf("get attach url: %w", err)
	}
	return resp.Url, nil
}

// PortForwardURL is ExecURL for port-forward (SPDY portforward.k8s.io, or
// the legacy WebSocket protocol for the requested ports).
func (s *Server) PortForwardURL(req *runtimeapi.PortForwardRequest) (string, error) {
	resp, err := s.cri.GetPortForward(req)
	if err != nil {
		return "", fmt.Errorf("get port-forward url: %w", err)
	}
	return resp.Url, nil
}

// Close stops listening, closes every connection (upgraded ones included),
// kills the processes and joins all goroutines the server started. The
// Kubernetes libraries' own per-connection goroutines end shortly after
// their connections close.
func (s *Server) Close() error {
	s.stopCtx()
	err := s.http.Close()
	s.lis.closeAll()
	_ = s.runtime.Close()
	s.serving.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
