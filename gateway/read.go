package gateway

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"time"

	"github.com/porthole/porthole/protocol/status"
)

// maxWriteBody bounds the body of a forwarded write (DeleteOptions, a
// rollout's patch: a few hundred bytes; a ConfigMap: up to a MiB of
// values, more in base64), as the API server bounds a request's.
const maxWriteBody = 3 << 20

// apiHandler serves every /api and /apis path: the streaming
// subresources of pods go to the session handler whatever the method (the
// API server authorizes them as create), discovery goes to any
// authenticated caller, and a resource read is forwarded only after the
// caller's RBAC allows its verb on exactly the resource the path names.
// Of writes, only those kubectl's streaming and workload commands make
// are served, under RBAC too: creating a namespace (kubectl create
// namespace), a pod (kubectl run), a Deployment (kubectl create
// deployment), a Service (kubectl expose) or a ConfigMap (kubectl create
// configmap), deleting one of those or a ReplicaSet, patching a namespace
// (kubectl label, apply), a Deployment (kubectl rollout restart, kubectl
// apply), a Service, ConfigMap or pod (kubectl apply, label, annotate)
// scaling a Deployment (kubectl scale) and adding ephemeral containers to
// a pod (kubectl debug); see writeVerb. Other writes
// and other resources are not served (see readable). The self reviews
// (kubectl auth whoami and can-i) are the gateway's own answers.
func (g *Gateway) apiHandler(w http.ResponseWriter, r *http.Request) {
	req, ok := parseAPIPath(r.URL.Path)
	if !ok {
		g.notFound(w, r)
		return
	}
	if req.resource && req.group == "" && req.version == "v1" && req.kind == "pods" &&
		req.namespace != "" && req.name != "" && isStreamVerb(req.subresource) {
		g.stream(w, r, req.subresource, req.namespace, req.name)
		return
	}
	if kind := req.selfReview(); kind != "" && r.Method == http.MethodPost {
		g.serveSelfReview(w, r, req, kind)
		return
	}
	if r.Method != http.MethodGet {
		verb, ok := req.writeVerb(r.Method, g.opts.Secrets)
		if !ok {
			g.refuse(w, r, nil, status.NewHTTPError(http.StatusMethodNotAllowed, "MethodNotAllowed",
				"the gateway serves only reads, exec, attach and port-forward, creating, deleting, patching and replacing namespaces, pods, services, config maps and deployments, deleting replica sets, scaling deployments and adding ephemeral containers to pods", nil))
			return
		}
		a := Attributes{User: userFrom(r.Context()), Verb: verb, APIGroup: req.group,
			Namespace: req.namespace, Resource: req.kind, Subresource: req.subresource, Name: req.name}
		if herr := g.authorize(r.Context(), a); herr != nil {
			g.refuse(w, r, nil, herr)
			return
		}
		if r.ContentLength > maxWriteBody {
			g.refuse(w, r, nil, status.NewHTTPError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
				fmt.Sprintf("the request body is larger than %d bytes", maxWriteBody), nil))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxWriteBody)
		g.proxyRead(w, r)
		return
	}
	if !req.resource {
		g.proxyRead(w, r)
		return
	}
	if !req.readableResource(g.opts.Secrets) {
		g.notFound(w, r)
		return
	}
	a := Attributes{User: userFrom(r.Context()), Verb: req.readVerb(r.URL.Query()), APIGroup: req.group,
		Namespace: req.namespace, Resource: req.kind, Subresource: req.subresource, Name: req.name}
	if herr := g.authorize(r.Context(), a); herr != nil {
		g.refuse(w, r, nil, herr)
		return
	}
	g.proxyRead(w, r)
}

func isStreamVerb(sub string) bool {
	return sub == "exec" || sub == "attach" || sub == "portforward"
}

// discoveryHandler proxies version and health to any authenticated caller,
// as the API server's discovery roles allow.
func (g *Gateway) discoveryHandler(w http.ResponseWriter, r *http.Request) { g.proxyRead(w, r) }

func (g *Gateway) notFound(w http.ResponseWriter, r *http.Request) {
	g.refuse(w, r, nil, status.NewHTTPError(http.StatusNotFound, "NotFound", "the gateway does not serve "+r.URL.Path, nil))
}

// proxyRead forwards a plain (non-upgrade) request; an upgrade on these
// paths is refused, so only the streaming paths ever splice.
func (g *Gateway) proxyRead(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "" {
		g.refuse(w, r, nil, status.NewHTTPError(http.StatusBadRequest, "BadRequest", "upgrade is not allowed on "+r.URL.Path, nil))
		return
	}
	g.readProxy.ServeHTTP(stallBound{ResponseWriter: w, rc: http.NewResponseController(w), d: g.opts.ReadStallTimeout}, r)
}

// stallBound is a ResponseWriter whose every write must finish within d
// (Options.ReadStallTimeout): a read can stream for as long as it likes
// (kubectl logs -f, watches), but a client that stops taking bytes (frozen,
// or gone without a FIN) would otherwise hold the proxy, its upstream
// request and their buffers for ever. The deadline is lifted after each
// write, so a kept-alive connection's next request is not bound by it.
type stallBound struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (s stallBound) Write(p []byte) (int, error) {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.d))
	n, err := s.ResponseWriter.Write(p)
	_ = s.rc.SetWriteDeadline(time.Time{})
	return n, err
}

// FlushError is the flush ReverseProxy does after each write of a
// streamed answer, under the same bound.
func (s stallBound) FlushError() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.d))
	err := s.rc.Flush()
	_ = s.rc.SetWriteDeadline(time.Time{})
	return err
}

// Unwrap lets a ResponseController reach the rest of the writer.
func (s stallBound) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (g *Gateway) newReadProxy() *httputil.ReverseProxy {
	tr := &http.Transport{
		DialContext:           g.opts.DialContext,
		TLSClientConfig:       g.opts.UpstreamTLS,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
	g.transport = tr
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = g.upstreamURL(pr.In.URL.Path, pr.In.URL.RawQuery)
			pr.Out.Host = ""
			pr.Out.Header = g.upstreamHeader(pr.In, userFrom(pr.In.Context()))
			pr.Out.Header.Del("Upgrade")
		},
		Transport: tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.log.Warn("upstream request failed", "path", r.URL.Path, "err", err)
			status.Write(w, status.NewHTTPError(http.StatusBadGateway, "ServiceUnavailable", "error reaching upstream: "+err.Error(), nil).Status)
		},
		ErrorLog: nil,
	}
}
