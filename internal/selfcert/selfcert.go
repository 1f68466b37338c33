// Package selfcert keeps the certificate authority, serving certificate and
// bearer token that `porthole serve` and `porthole gateway` make for
// themselves when no one gives them any, so that a first run serves HTTPS
// with a token the way a real cluster does. Everything lives in one
// directory and is reused across restarts: a kubeconfig written once keeps
// working.
package selfcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names inside the directory.
const (
	CAFile     = "ca.crt"
	caKeyFile  = "ca.key"
	CertFile   = "tls.crt"
	KeyFile    = "tls.key"
	TokensFile = "tokens.csv"
)

const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	certLifetime = 365 * 24 * time.Hour
	// renewBefore is how close to its end a serving certificate is made
	// anew (the CA stays, so kubeconfigs stay valid).
	renewBefore = 30 * 24 * time.Hour
)

// Bundle is what Ensure found or made.
type Bundle struct {
	Dir string
	// CAPEM is the authority's certificate, for a kubeconfig's
	// certificate-authority-data.
	CAPEM []byte
	// Certificate serves HTTPS, signed by the authority.
	Certificate tls.Certificate
	// Made says what Ensure had to create ("" when everything was reused).
	Made string
}

// CAPath is the authority's certificate file.
func (b *Bundle) CAPath() string { return filepath.Join(b.Dir, CAFile) }

// Ensure loads the authority and serving certificate from dir, making
// whichever is missing, unreadable or unfit: a serving certificate is made
// anew when it does not name every host in hosts, was not signed by the
// authority, or ends within 30 days. dir is created with mode 0700; keys are
// written 0600.
func Ensure(dir string, hosts []string, now time.Time) (*Bundle, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certificate directory: %w", err)
	}
	b := &Bundle{Dir: dir}
	ca, caKey, err := loadPair(filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile))
	if err != nil || !ca.IsCA || now.After(ca.NotAfter.Add(-renewBefore)) {
		if ca, caKey, err = makeCA(dir, now); err != nil {
			return nil, err
		}
		b.Made = "a certificate authority and a serving certificate"
	}
	b.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})

	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	leaf, _, err := loadPair(certPath, keyPath)
	if err != nil || !fits(leaf, ca, hosts, now) {
		if err := makeServing(certPath, keyPath, ca, caKey, hosts, now); err != nil {
			return nil, err
		}
		if b.Made == "" {
			b.Made = "a serving certificate"
		}
	}
	if b.Certificate, err = tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		return nil, fmt.Errorf("load serving certificate: %w", err)
	}
	return b, nil
}

// fits reports whether leaf still serves hosts under ca.
func fits(leaf, ca *x509.Certificate, hosts []string, now time.Time) bool {
	if leaf.CheckSignatureFrom(ca) != nil || now.After(leaf.NotAfter.Add(-renewBefore)) || now.Before(leaf.NotBefore) {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// loadPair reads a PEM certificate and its ECDSA key.
func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("not an ECDSA key")
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func makeCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "porthole-ca@" + host, Organization: []string{"porthole"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	if err := writePair(filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile), der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func makeServing(certPath, keyPath string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "porthole"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("create serving certificate: %w", err)
	}
	return writePair(certPath, keyPath, der, key)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// writePair writes the key first: a certificate is never on disk without
// its key.
func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile replaces path atomically (a reader sees the old or the new file).
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(mode), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Token is the install's bearer token and the token file that grants it.
type Token struct {
	Value string
	// File is a kube-apiserver --token-auth-file line for it.
	File string
	Made bool
}

// EnsureToken returns the token kept in dir's tokens.csv for user (in the
// given groups), making the file with a new random token when it is
// missing. A tokens.csv the user edited is kept as it is; its first token is
// the install's.
func EnsureToken(dir, user string, groups []string) (*Token, error) {
	path := filepath.Join(dir, TokensFile)
	data, err := os.ReadFile(path)
	if err == nil {
		if tok := firstToken(data); tok != "" {
			return &Token{Value: tok, File: path}, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	line := fmt.Sprintf("%s,%s,%s,%q\n", tok, user, user, strings.Join(groups, ","))
	if err := writeFile(path, []byte(line), 0o600); err != nil {
		return nil, err
	}
	return &Token{Value: tok, File: path, Made: true}, nil
}

// firstToken is the token of the first line that is not a comment.
func firstToken(data []byte) string {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		tok, _, _ := bytes.Cut(line, []byte(","))
		return string(bytes.TrimSpace(tok))
	}
	return ""
}

// Hosts are the names a serving certificate for listen (host:port) must
// carry: loopback's, this machine's name, the listen host itself, and,
// listening on every interface, each interface's address.
func Hosts(listen string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	add := func(h string) {
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if h, err := os.Hostname(); err == nil {
		add(h)
	}
	h, _, err := net.SplitHostPort(listen)
	if err != nil {
		return hosts
	}
	if ip := net.ParseIP(h); h != "" && (ip == nil || !ip.IsUnspecified()) {
		add(h)
		return hosts
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
				add(n.IP.String())
			}
		}
	}
	return hosts
}
