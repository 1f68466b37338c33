package gateway

import (
	"net/http"
	"net/http/httputil"
	"time"
)

// readHandler proxies pods get and list after authorizing them.
func (g *Gateway) readHandler(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := Attributes{User: userFrom(r.Context()), Verb: verb, Namespace: r.PathValue("namespace"),
			Resource: "pods", Name: r.PathValue("pod")}
		if herr := g.authorize(r.Context(), a); herr != nil {
			g.refuse(w, r, nil, herr)
			return
		}
		g.proxyRead(w, r)
	}
}

// namespaceHandler authorizes and proxies namespace reads (a cluster-scoped
// resource: only cluster-wide grants apply).
func (g *Gateway) namespaceHandler(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := Attributes{User: userFrom(r.Context()), Verb: verb, Resource: "namespaces", Name: r.PathValue("namespace")}
		if herr := g.authorize(r.Context(), a); herr != nil {
			g.refuse(w, r, nil, herr)
			return
		}
		g.proxyRead(w, r)
	}
}

// discoveryHandler proxies version, discovery and health to any
// authenticated caller, as the API server's discovery roles allow.
func (g *Gateway) discoveryHandler(w http.ResponseWriter, r *http.Request) { g.proxyRead(w, r) }

// proxyRead forwards a plain (non-upgrade) request; an upgrade on these
// paths is refused, so only the streaming paths ever splice.
func (g *Gateway) proxyRead(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "" {
		g.refuse(w, r, nil, &httpError{code: http.StatusBadRequest, reason: "BadRequest",
			msg: "upgrade is not allowed on " + r.URL.Path})
		return
	}
	g.readProxy.ServeHTTP(w, r)
}

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
			writeStatus(w, (&httpError{code: http.StatusBadGateway, reason: "ServiceUnavailable",
				msg: "error reaching upstream: " + err.Error()}).status())
		},
		ErrorLog: nil,
	}
}
