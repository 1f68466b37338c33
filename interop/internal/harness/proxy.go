package harness

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Upgrade records one upgrade attempt seen by the Proxy: what the client
// offered and what the server answered. The kubectl tests use it to prove
// which wire a kubectl version really used (a WebSocket attempt that fails
// silently falls back to SPDY, which would otherwise hide a broken
// WebSocket server behind a passing test).
type Upgrade struct {
	Method     string
	RequestURI string
	// Upgrade is the request's Upgrade header: "websocket" or "SPDY/3.1".
	Upgrade string
	// Offered is the Sec-WebSocket-Protocol or X-Stream-Protocol-Version list.
	Offered []string
	// Status is the server's response code (101 on success).
	Status int
	// Negotiated is the protocol the 101 named.
	Negotiated string
}

// WebSocket reports whether the attempt was a WebSocket upgrade.
func (u Upgrade) WebSocket() bool { return strings.EqualFold(u.Upgrade, "websocket") }

// SPDY reports whether the attempt was a SPDY/3.1 upgrade.
func (u Upgrade) SPDY() bool { return strings.HasPrefix(strings.ToUpper(u.Upgrade), "SPDY/") }

func (u Upgrade) String() string {
	return fmt.Sprintf("%s %s upgrade=%s offered=%v -> %d %q", u.Method, u.RequestURI, u.Upgrade, u.Offered, u.Status, u.Negotiated)
}

// Proxy is a TCP-level recording proxy in front of porthole, standing where
// the API server's upgrade-aware proxy would: it parses the first request on
// each connection (client-go dials a fresh connection for every upgrade),
// records upgrade attempts, forwards the exact bytes, then copies both ways
// until either direction ends and closes both sides, as the API server does.
// When the upstream is https the proxy terminates TLS with its own
// certificate (CACertPEM) and dials the upstream with the given TLS config.
type Proxy struct {
	ln       net.Listener
	upstream string
	upTLS    *tls.Config
	caPEM    []byte

	mu       sync.Mutex
	upgrades []Upgrade
	conns    map[net.Conn]struct{}
	cut      map[net.Conn]bool // connections stalled by Cut
	cuts     int

	wg sync.WaitGroup
}

// NewProxy listens on 127.0.0.1 and forwards to upstream (host:port). A
// non-nil upTLS makes both sides TLS. Close stops it and joins its
// goroutines.
func NewProxy(upstream string, upTLS *tls.Config) (*Proxy, error) {
	p := &Proxy{upstream: upstream, conns: make(map[net.Conn]struct{}), cut: make(map[net.Conn]bool)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy listen: %w", err)
	}
	if upTLS != nil {
		cert, caPEM, err := selfSigned()
		if err != nil {
			ln.Close()
			return nil, err
		}
		p.caPEM = caPEM
		up := upTLS.Clone()
		up.NextProtos = []string{"http/1.1"}
		p.upTLS = up
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	}
	p.ln = ln
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// URL is the proxy's base URL.
func (p *Proxy) URL() string {
	if p.upTLS != nil {
		return "https://" + p.ln.Addr().String()
	}
	return "http://" + p.ln.Addr().String()
}

// CACertPEM is the proxy's certificate when it terminates TLS, else nil.
func (p *Proxy) CACertPEM() []byte { return p.caPEM }

// Mark returns a position in the upgrade log for UpgradesSince.
func (p *Proxy) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.upgrades)
}

// UpgradesSince returns the upgrade attempts recorded after mark.
func (p *Proxy) UpgradesSince(mark int) []Upgrade {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Upgrade(nil), p.upgrades[mark:]...)
}

// Close stops accepting, closes every proxied connection and waits for the
// copy goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// Cut breaks every connection open now as a network failure does, not as
// a peer closing: their bytes stop flowing both ways (what is in flight is
// lost) for stall, then both sides are reset (RST, no FIN, no WebSocket
// close). New connections are proxied as before. It returns at once.
func (p *Proxy) Cut(stall time.Duration) {
	p.mu.Lock()
	var victims []net.Conn
	for c := range p.conns {
		p.cut[c] = true
		victims = append(victims, c)
	}
	p.cuts++
	p.mu.Unlock()
	time.AfterFunc(stall, func() {
		for _, c := range victims {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
	})
}

// Cuts counts the calls to Cut.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

func (p *Proxy) isCut(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut[c]
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serveConn(c)
	}
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
		delete(p.cut, c)
	}
}

// SetUpstream proxies the connections accepted from now on to upstream
// (host:port, same scheme): a load balancer that sends the next
// connection to another replica.
func (p *Proxy) SetUpstream(upstream string) {
	p.mu.Lock()
	p.upstream = upstream
	p.mu.Unlock()
}

func (p *Proxy) dialUpstream() (net.Conn, error) {
	p.mu.Lock()
	upstream := p.upstream
	p.mu.Unlock()
	d := &net.Dialer{Timeout: 10 * time.Second}
	if p.upTLS != nil {
		return tls.DialWithDialer(d, "tcp", upstream, p.upTLS)
	}
	return d.Dial("tcp", upstream)
}

// serveConn owns client.
func (p *Proxy) serveConn(client net.Conn) {
	defer p.wg.Done()
	p.track(client, true)
	defer p.track(client, false)
	defer client.Close()

	var fromClient bytes.Buffer
	req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(client, &fromClient)))
	if err != nil {
		return
	}
	up, err := p.dialUpstream()
	if err != nil {
		return
	}
	p.track(up, true)
	defer p.track(up, false)
	defer up.Close()
	if _, err := up.Write(fromClient.Bytes()); err != nil {
		return
	}
	if isUpgrade(req.Header) {
		var fromUp bytes.Buffer
		resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(up, &fromUp)), req)
		u := Upgrade{Method: req.Method, RequestURI: req.RequestURI, Upgrade: req.Header.Get("Upgrade"), Offered: offered(req.Header)}
		if err == nil {
			u.Status = resp.StatusCode
			u.Negotiated = resp.Header.Get("Sec-WebSocket-Protocol")
			if u.SPDY() {
				u.Negotiated = resp.Header.Get("X-Stream-Protocol-Version")
			}
		}
		p.mu.Lock()
		p.upgrades = append(p.upgrades, u)
		p.mu.Unlock()
		if _, werr := client.Write(fromUp.Bytes()); werr != nil || err != nil {
			return
		}
	}
	p.splice(client, up)
}

// splice copies both ways until either direction ends, then closes both,
// like the API server's upgrade-aware proxy.
func (p *Proxy) splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go p.copyHalf(a, b, done)
	go p.copyHalf(b, a, done)
	<-done
	a.Close()
	b.Close()
	<-done
}

// copyHalf copies src to dst until either fails, then signals done; once
// either is cut, what it reads is dropped.
func (p *Proxy) copyHalf(dst, src net.Conn, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.isCut(src) && !p.isCut(dst) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func isUpgrade(h http.Header) bool {
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

func offered(h http.Header) []string {
	var out []string
	for _, key := range []string{"Sec-WebSocket-Protocol", "X-Stream-Protocol-Version"} {
		for _, v := range h.Values(key) {
			for _, tok := range strings.Split(v, ",") {
				if tok = strings.TrimSpace(tok); tok != "" {
					out = append(out, tok)
				}
			}
		}
	}
	return out
}

func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("proxy key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "interop-proxy"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("proxy certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("proxy key encoding: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return tls.Certificate{}, nil, errors.Join(errors.New("proxy key pair"), err)
	}
	return cert, certPEM, nil
}
