package gateway

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/porthole/porthole/protocol/status"
)

// Replicas. Several gateways in front of the same upstream share their
// sessions' reach: a session's id names the replica that holds it
// ("<128 random bits in hex>.<replica>"), and a replica that gets a request
// for a session held by another passes the request to that peer (a plain
// HTTP reverse proxy, upgrades included), after authenticating and
// authorizing the caller itself. The peer trusts the caller it is told
// about only from a replica: the request carries the replicas' shared
// secret in HeaderPeerAuthorization, as the API server trusts its
// front proxy's X-Remote-User only on a verified client certificate. A
// client's own copy of these headers never passes (identityHeader), and a
// request to a peer never carries the caller's own credentials.
const (
	HeaderPeerAuthorization = "X-Porthole-Peer-Authorization"
	HeaderPeerUser          = "X-Porthole-Peer-User"
	HeaderPeerUID           = "X-Porthole-Peer-Uid"
	HeaderPeerGroup         = "X-Porthole-Peer-Group"
)

// PeerOptions configure a replica among its peers.
type PeerOptions struct {
	// Name is this replica's name, the suffix of its sessions' ids. A
	// StatefulSet's pod name is a good one: it is stable, and its headless
	// Service gives each replica a DNS name.
	Name string
	// Peers are the replicas' base URLs by name; this replica's own entry,
	// if there, is ignored, so that every replica takes the same list.
	Peers map[string]*url.URL
	// Token is the secret the replicas share (at least 32 bytes).
	Token string
	// TLS configures connections to peers (nil: the system's roots).
	TLS *tls.Config
}

// minPeerToken is the shortest shared secret accepted.
const minPeerToken = 32

func (o *PeerOptions) validate() error {
	if o == nil {
		return nil
	}
	if !validReplicaName(o.Name) {
		return fmt.Errorf("gateway: replica name %q: want 1 to 63 lower-case letters, digits and '-'", o.Name)
	}
	if len(o.Token) < minPeerToken {
		return fmt.Errorf("gateway: the replicas' shared token must be at least %d bytes", minPeerToken)
	}
	for name, u := range o.Peers {
		if !validReplicaName(name) {
			return fmt.Errorf("gateway: peer name %q: want 1 to 63 lower-case letters, digits and '-'", name)
		}
		if u == nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("gateway: peer %q: want an http or https URL", name)
		}
	}
	return nil
}

// validReplicaName: a DNS label, so that a pod's name fits and an id
// splits one way only.
func validReplicaName(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ParsePeers reads --peers: "name=URL" entries separated by commas.
func ParsePeers(s string) (map[string]*url.URL, error) {
	out := map[string]*url.URL{}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		name, raw, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("peer %q: want name=URL", e)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("peer %q: want an http or https URL, got %q", name, raw)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("peer %q named twice", name)
		}
		out[name] = u
	}
	return out, nil
}

// sessionID makes a session's id: 128 random bits, and the replica's
// name when there are replicas.
func (g *Gateway) sessionID() string {
	id := newResumeID()
	if p := g.opts.Replicas; p != nil {
		id += "." + p.Name
	}
	return id
}

// replicaOf returns the replica an id names ("" for none or a malformed
// id).
func replicaOf(id string) string {
	_, name, ok := strings.Cut(id, ".")
	if !ok || !validReplicaName(name) {
		return ""
	}
	return name
}

// peerFor returns the peer that holds session id, or nil when it is this
// replica's or no known peer's.
func (g *Gateway) peerFor(id string) (string, *url.URL) {
	p := g.opts.Replicas
	if p == nil {
		return "", nil
	}
	name := replicaOf(id)
	if name == "" || name == p.Name {
		return "", nil
	}
	return name, p.Peers[name]
}

// peerUser returns the caller a replica vouches for, nil when the request
// does not come from a replica, and an error when it claims to and the
// secret is wrong. The peer headers are removed either way.
func (g *Gateway) peerUser(r *http.Request) (*User, error) {
	auth := r.Header.Get(HeaderPeerAuthorization)
	name, uid, groups := r.Header.Get(HeaderPeerUser), r.Header.Get(HeaderPeerUID), r.Header.Values(HeaderPeerGroup)
	for _, k := range []string{HeaderPeerAuthorization, HeaderPeerUser, HeaderPeerUID, HeaderPeerGroup} {
		r.Header.Del(k)
	}
	if auth == "" {
		return nil, nil
	}
	p := g.opts.Replicas
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if p == nil || !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(p.Token)) != 1 {
		return nil, errors.New("a peer's request with a wrong shared token")
	}
	if name == "" {
		return nil, errors.New("a peer's request without its caller")
	}
	return &User{Name: name, UID: uid, Groups: append([]string(nil), groups...)}, nil
}

// newPeerTransport is the one transport to every peer.
func newPeerTransport(o *Options) *http.Transport {
	return &http.Transport{TLSClientConfig: o.Replicas.TLS, DialContext: o.DialContext, ForceAttemptHTTP2: false,
		ResponseHeaderTimeout: 30 * time.Second, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
}

// forwardToPeer passes r, whose caller s.user the gateway authenticated
// and authorized, to the replica peer, as that caller.
func (g *Gateway) forwardToPeer(w http.ResponseWriter, r *http.Request, s *session, name string, peer *url.URL) {
	p := g.opts.Replicas
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(peer)
			pr.Out.Host = peer.Host
			h := pr.Out.Header
			for _, k := range dropHeaders {
				if k != "Connection" && k != "Content-Length" {
					h.Del(k)
				}
			}
			for k := range h {
				if identityHeader(k) {
					delete(h, k)
				}
			}
			h.Set(HeaderPeerAuthorization, "Bearer "+p.Token)
			h.Set(HeaderPeerUser, s.user.Name)
			if s.user.UID != "" {
				h.Set(HeaderPeerUID, s.user.UID)
			}
			for _, grp := range s.user.Groups {
				h.Add(HeaderPeerGroup, grp)
			}
		},
		Transport: g.peerTransport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.refuse(w, r, s, status.NewHTTPError(http.StatusBadGateway, "ServiceUnavailable", fmt.Sprintf("replica %q, which holds the session, cannot be reached", name), err))
		},
	}
	g.log.Info("passing a request to the replica holding its session", "replica", name, "path", r.URL.Path, "user", s.user.Name)
	rp.ServeHTTP(w, r)
}
