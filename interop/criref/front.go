package criref

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	apiproxy "k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apiserver/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// streamRequest is an exec, attach or port-forward request to the front,
// whichever URL style it came in.
type streamRequest struct {
	ns, pod, container         string
	cmd                        []string
	stdin, stdout, stderr, tty bool
	ports                      []int32
}

func (sr *streamRequest) containerID() string { return sr.ns + "/" + sr.pod + "/" + sr.container }

// routeFront registers the kubelet paths and the API-server paths. The
// latter skip the API server's raw-proxy hop, as a node whose API server
// passes WebSockets straight through would be reached.
func (s *Server) routeFront(mux *http.ServeMux) {
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", s.kubeletHandler(s.serveExec))
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", s.kubeletHandler(s.serveAttach))
	mux.HandleFunc("/portForward/{ns}/{pod}", s.kubeletHandler(s.servePortForward))
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}/exec", s.apiHandler(s.serveExec))
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}/attach", s.apiHandler(s.serveAttach))
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}/portforward", s.apiHandler(s.servePortForward))
	mux.HandleFunc(DirectPrefix+"/api/v1/namespaces/{ns}/pods/{pod}/exec", s.apiHandler(s.serveExecDirect))
}

// DirectPrefix is where the front serves exec with no hop of its own for
// SPDY: the CRI server answers on the caller's connection, as a kubelet
// that redirected container streaming to its runtime would be reached. A
// translator in front (porthole's gateway) then has as many hops to the
// CRI server as the front's own translator has.
const DirectPrefix = "/direct"

// serveExecDirect is serveExec whose SPDY and legacy WebSocket requests go
// to the CRI server in this process, not through the raw proxy.
func (s *Server) serveExecDirect(w http.ResponseWriter, r *http.Request, sr *streamRequest) {
	if !s.checkStreams(w, sr) {
		return
	}
	u, err := s.cri.GetExec(&runtimeapi.ExecRequest{
		ContainerId: sr.containerID(), Cmd: sr.cmd,
		Tty: sr.tty, Stdin: sr.stdin, Stdout: sr.stdout, Stderr: sr.stderr,
	})
	if err != nil {
		_ = streaming.WriteError(err, w)
		return
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		s.streamTo(w, r, u.Url, sr)
		return
	}
	cu, err := url.Parse(u.Url)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = cu.Path, "", cu.RawQuery
	r2.RequestURI = cu.RequestURI()
	s.cri.ServeHTTP(w, r2)
}

type streamHandler func(w http.ResponseWriter, r *http.Request, sr *streamRequest)

// kubeletHandler parses the kubelet's parameters: flags true only when "1",
// ports in "port".
func (s *Server) kubeletHandler(h streamHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		sr := &streamRequest{
			ns: r.PathValue("ns"), pod: r.PathValue("pod"), container: r.PathValue("container"),
			cmd:   q["command"],
			stdin: q.Get("input") == "1", stdout: q.Get("output") == "1",
			stderr: q.Get("error") == "1", tty: q.Get("tty") == "1",
		}
		if !s.parsePorts(w, q["port"], sr) {
			return
		}
		h(w, r, sr)
	}
}

// apiHandler parses the API server's parameters: a present flag is true
// unless it is "0" or "false"; ports in "ports"; container defaults to the
// pod's only declared container, else "main".
func (s *Server) apiHandler(h streamHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		sr := &streamRequest{
			ns: r.PathValue("ns"), pod: r.PathValue("pod"), container: q.Get("container"),
			cmd:   q["command"],
			stdin: apiFlag(q, "stdin"), stdout: apiFlag(q, "stdout"),
			stderr: apiFlag(q, "stderr"), tty: apiFlag(q, "tty"),
		}
		if sr.container == "" {
			sr.container = s.runtime.defaultContainer(sr.ns, sr.pod)
		}
		if !s.parsePorts(w, q["ports"], sr) {
			return
		}
		h(w, r, sr)
	}
}

func apiFlag(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok {
		return false
	}
	if len(v) == 0 {
		return true
	}
	return !strings.EqualFold(v[0], "0") && !strings.EqualFold(v[0], "false")
}

// parsePorts answers 400 for a bad port list, as the kubelet does.
func (s *Server) parsePorts(w http.ResponseWriter, values []string, sr *streamRequest) bool {
	ports, err := parsePortList(values)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	sr.ports = ports
	return true
}

// maxPorts bounds one request's port list, so a long query cannot make the
// front allocate without limit.
const maxPorts = 128

// parsePortList reads repeated and comma-separated decimal ports; 0,
// values above 65535, non-numbers and more than maxPorts are refused.
func parsePortList(values []string) ([]int32, error) {
	var ports []int32
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("invalid port %q", p)
			}
			if len(ports) == maxPorts {
				return nil, fmt.Errorf("more than %d ports", maxPorts)
			}
			ports = append(ports, int32(n))
		}
	}
	return ports, nil
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request, sr *streamRequest) {
	if !s.checkStreams(w, sr) {
		return
	}
	u, err := s.cri.GetExec(&runtimeapi.ExecRequest{
		ContainerId: sr.containerID(), Cmd: sr.cmd,
		Tty: sr.tty, Stdin: sr.stdin, Stdout: sr.stdout, Stderr: sr.stderr,
	})
	if err != nil {
		_ = streaming.WriteError(err, w)
		return
	}
	s.streamTo(w, r, u.Url, sr)
}

func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request, sr *streamRequest) {
	if !s.checkStreams(w, sr) {
		return
	}
	u, err := s.cri.GetAttach(&runtimeapi.AttachRequest{
		ContainerId: sr.containerID(),
		Tty:         sr.tty, Stdin: sr.stdin, Stdout: sr.stdout, Stderr: sr.stderr,
	})
	if err != nil {
		_ = streaming.WriteError(err, w)
		return
	}
	s.streamTo(w, r, u.Url, sr)
}

// checkStreams applies the kubelet's option rules: at least one stream, and
// stderr silently dropped with a tty.
func (s *Server) checkStreams(w http.ResponseWriter, sr *streamRequest) bool {
	if !sr.stdin && !sr.stdout && !sr.stderr {
		http.Error(w, "you must specify at least 1 of stdin, stdout, stderr", http.StatusBadRequest)
		return false
	}
	if sr.tty {
		sr.stderr = false
	}
	return true
}

// streamTo hands an exec or attach to the CRI URL: WebSocket v5 through the
// 1.37 stream translator (WS v5 -> SPDY client), anything else through the
// upgrade-aware raw proxy, as the kubelet does.
func (s *Server) streamTo(w http.ResponseWriter, r *http.Request, rawURL string, sr *streamRequest) {
	u, err := url.Parse(rawURL)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		opts := proxy.Options{Stdin: sr.stdin, Stdout: sr.stdout, Stderr: sr.stderr, Tty: sr.tty}
		proxy.NewStreamTranslatorHandler(u, nil, 0, opts).ServeHTTP(w, r)
		return
	}
	s.upgradeProxy(u).ServeHTTP(w, r)
}

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request, sr *streamRequest) {
	resp, err := s.cri.GetPortForward(&runtimeapi.PortForwardRequest{
		PodSandboxId: sr.ns + "/" + sr.pod, Port: sr.ports,
	})
	if err != nil {
		_ = streaming.WriteError(err, w)
		return
	}
	u, err := url.Parse(resp.Url)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
		proxy.NewTunnelingHandler(s.upgradeProxy(u)).ServeHTTP(w, r)
		return
	}
	s.upgradeProxy(u).ServeHTTP(w, r)
}

// upgradeProxy is the kubelet's proxyStream: upgrade required, default
// transport, errors answered as plain text.
func (s *Server) upgradeProxy(u *url.URL) *apiproxy.UpgradeAwareHandler {
	return apiproxy.NewUpgradeAwareHandler(u, nil, false, true, errorResponder{s})
}

type errorResponder struct{ s *Server }

func (e errorResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	e.s.log.Warn("proxy stream", "err", err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
