package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// Replicas: with Options.ReplicaName, a session's id and its resume id
// start with the name of the replica that holds it ("r1.1764...-3"), and
// any replica serves every replica's sessions: a list asks each of
// Options.Peers for its own, and a watch, join, get, end or resume of
// another's session is proxied to it (the WebSocket too). Between replicas a request
// carries the shared Options.PeerToken and the caller as this replica
// authenticated it; the peer accepts that identity on the sessions API and
// for resumes only, and authorizes the caller again with its own (the
// same) RBAC; a resume's owner check is the holding replica's.
const (
	headerPeerToken = "X-Porthole-Peer-Token"
	headerPeerUser  = "X-Porthole-Peer-User"
	headerPeerGroup = "X-Porthole-Peer-Group"
	// headerPeerImpersonator names who impersonates the user, for audit.
	headerPeerImpersonator = "X-Porthole-Peer-Impersonated-By"
	peerListTimeout        = 10 * time.Second
	maxPeerList            = 8 << 20
)

type peerKey struct{}

// fromPeer reports whether the request came from another replica.
func fromPeer(ctx context.Context) bool {
	v, _ := ctx.Value(peerKey{}).(bool)
	return v
}

// peerUser authenticates a request from another replica: ok says the
// request claims to be one; then the user it speaks for, or the refusal.
func (g *Gateway) peerUser(r *http.Request) (u *User, ok bool, herr *status.HTTPError) {
	tok := r.Header.Get(headerPeerToken)
	if tok == "" {
		return nil, false, nil
	}
	switch {
	case g.opts.PeerToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(g.opts.PeerToken)) != 1:
		return nil, true, unauthorized("Unauthorized", errors.New("invalid replica token"))
	case !strings.HasPrefix(r.URL.Path, protocol.SessionsPath+"/") && r.Header.Get(protocol.HeaderResume) == "":
		return nil, true, unauthorized("Unauthorized", errors.New("a replica speaks for a user on the sessions API and resumes only"))
	case r.Header.Get(headerPeerUser) == "":
		return nil, true, unauthorized("Unauthorized", errors.New("replica request without a user"))
	}
	// peerHeader leaves system:authenticated out, as every caller but an
	// anonymous one has it.
	u = &User{Name: r.Header.Get(headerPeerUser), Groups: r.Header.Values(headerPeerGroup), ImpersonatedBy: r.Header.Get(headerPeerImpersonator)}
	if !slices.Contains(u.Groups, GroupUnauthenticated) {
		u = withAuthenticated(u)
	}
	return u, true, nil
}

// replicaPrefix starts the ids this replica gives ("" without a name).
func (g *Gateway) replicaPrefix() string {
	if g.opts.ReplicaName == "" {
		return ""
	}
	return g.opts.ReplicaName + "."
}

// newSessionID is the id of a new session: the replica's name first, when
// there is one.
func (g *Gateway) newSessionID() string {
	return g.replicaPrefix() + fmt.Sprintf("%d-%d", time.Now().UnixNano(), g.ids.Add(1))
}

// peerOf is the peer holding session id ("" when it is this replica's or
// names no known replica).
func (g *Gateway) peerOf(id string) string {
	name, _, ok := strings.Cut(id, ".")
	if !ok || name == g.opts.ReplicaName {
		return ""
	}
	if _, known := g.opts.Peers[name]; !known {
		return ""
	}
	return name
}

// peerHeader sets the replica's credentials and the caller on h.
func (g *Gateway) peerHeader(h http.Header, u *User) {
	for _, k := range []string{"Authorization", "Cookie", headerPeerToken, headerPeerUser, headerPeerGroup, headerPeerImpersonator} {
		h.Del(k)
	}
	h.Set(headerPeerToken, g.opts.PeerToken)
	h.Set(headerPeerUser, u.Name)
	if u.ImpersonatedBy != "" {
		h.Set(headerPeerImpersonator, u.ImpersonatedBy)
	}
	for _, grp := range u.Groups {
		if grp != GroupAuthenticated {
			h.Add(headerPeerGroup, grp)
		}
	}
}

// toPeer proxies the request to the peer holding its session, WebSocket
// upgrades included; it reports false when the session is this replica's.
func (g *Gateway) toPeer(w http.ResponseWriter, r *http.Request, id string) bool {
	if fromPeer(r.Context()) {
		return false // never forwarded twice
	}
	name := g.peerOf(id)
	if name == "" {
		return false
	}
	target := g.opts.Peers[name]
	u := userFrom(r.Context())
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the same Host, so the peer's Host and Origin checks agree
			g.peerHeader(pr.Out.Header, u)
		},
		Transport: g.peerTransport(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.refuse(w, r, nil, status.NewHTTPError(http.StatusBadGateway, "ServiceUnavailable", "replica "+name+" holding the session is unreachable: "+err.Error(), err))
		},
	}
	rp.ServeHTTP(w, r)
	return true
}

func (g *Gateway) peerTransport() *http.Transport {
	return &http.Transport{DialContext: g.opts.DialContext, TLSClientConfig: g.opts.PeerTLS,
		ForceAttemptHTTP2: false, ResponseHeaderTimeout: peerListTimeout}
}

// peerSessions lists the sessions of every peer (in namespace ns), as
// user; a peer that cannot answer is left out and logged.
func (g *Gateway) peerSessions(ctx context.Context, ns string, u *User) []protocol.SessionInfo {
	var all []protocol.SessionInfo
	tr := g.peerTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: peerListTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, base := range g.opts.Peers {
		if name == g.opts.ReplicaName {
			continue
		}
		path := protocol.SessionsPath + "/sessions"
		if ns != "" {
			path = protocol.SessionsPath + "/namespaces/" + url.PathEscape(ns) + "/sessions"
		}
		items, err := g.peerList(ctx, hc, base.JoinPath(path).String(), u)
		if err != nil {
			g.log.Warn("replica's sessions not listed", "replica", name, "err", err)
			continue
		}
		all = append(all, items...)
	}
	return all
}

func (g *Gateway) peerList(ctx context.Context, hc *http.Client, u string, user *User) ([]protocol.SessionInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	g.peerHeader(req.Header, user)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPeerList))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var l protocol.SessionList
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	return l.Items, nil
}
