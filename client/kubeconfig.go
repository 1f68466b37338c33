package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/porthole/porthole/kube/kubeconfig"
)

// ConfigFromKubeconfig turns a loaded kubeconfig context into a Config:
// TLS roots and client certificate, credentials, impersonation and the
// cluster's proxy-url (else the environment's proxies). An exec credential
// plugin supplies the token or client certificate on demand; its stderr
// goes to pluginStderr.
func ConfigFromKubeconfig(cc *kubeconfig.ClientConfig, pluginStderr io.Writer) (*Config, error) {
	tc := &tls.Config{ServerName: cc.TLSServerName, InsecureSkipVerify: cc.InsecureSkipTLSVerify} //nolint:gosec // the kubeconfig asked for it
	if len(cc.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cc.CAData) {
			return nil, errors.New("kubeconfig: certificate authority holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if len(cc.CertData) > 0 {
		cert, err := tls.X509KeyPair(cc.CertData, cc.KeyData)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	cfg := &Config{
		Host:              cc.Server,
		TLSClientConfig:   tc,
		BearerToken:       cc.Token,
		BearerTokenFile:   cc.TokenFile,
		Username:          cc.Username,
		Password:          cc.Password,
		Impersonate:       cc.Impersonate,
		ImpersonateUID:    cc.ImpersonateUID,
		ImpersonateGroups: cc.ImpersonateGroups,
	}
	if cc.ProxyURL != "" {
		u, err := url.Parse(cc.ProxyURL)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: proxy-url: %w", err)
		}
		cfg.Proxy = http.ProxyURL(u)
	}
	// As client-go, a plugin is for users with no other credential: a
	// token (--token, say), basic auth or a certificate wins.
	if cc.Exec != nil && cc.Token == "" && cc.TokenFile == "" && cc.Username == "" && cc.Password == "" && len(cc.CertData) == 0 {
		plugin := kubeconfig.NewExecPlugin(cc.Exec, pluginStderr)
		cfg.RefreshCredentials = plugin.Invalidate
		cfg.TokenSource = func(ctx context.Context) (string, error) {
			c, err := plugin.Credential(ctx)
			if err != nil {
				return "", err
			}
			return c.Token, nil
		}
		static := &tls.Certificate{} // none: the server decides whether that is enough
		if len(tc.Certificates) > 0 {
			static = &tc.Certificates[0]
		}
		// GetClientCertificate replaces Certificates, so a plugin that gives
		// only a token falls back to the kubeconfig's certificate.
		tc.GetClientCertificate = func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := plugin.Credential(info.Context())
			if err != nil {
				return nil, err
			}
			if len(c.CertData) == 0 {
				return static, nil
			}
			cert, err := tls.X509KeyPair(c.CertData, c.KeyData)
			if err != nil {
				return nil, fmt.Errorf("exec plugin client certificate: %w", err)
			}
			return &cert, nil
		}
	}
	return cfg, nil
}
