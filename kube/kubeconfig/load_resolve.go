package kubeconfig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/porthole/porthole/kube"
)

// resolve picks the context and fills a ClientConfig from its cluster and
// user, reading referenced files and decoding inline data.
func (m *merged) resolve(opts *LoadOptions) (*ClientConfig, error) {
	name := opts.Context
	if name == "" {
		name = m.current
	}
	cc := &ClientConfig{Context: name}
	o := &opts.Overrides
	var ctx fileContext
	if name != "" {
		var ok bool
		if ctx, ok = m.contexts[name]; !ok {
			return nil, &Error{Err: fmt.Errorf("context %q does not exist", name)}
		}
	} else if opts.Server == "" && o.Cluster == "" {
		return nil, &Error{Err: errors.New("no current-context is set and no --context was given")}
	}
	cc.Namespace = ctx.Namespace
	if opts.Namespace != "" {
		cc.Namespace = opts.Namespace
	}
	if cc.Namespace == "" {
		cc.Namespace = kube.DefaultNamespace
	}
	clusterField, userField := "contexts["+name+"].cluster", "contexts["+name+"].user"
	if o.Cluster != "" {
		ctx.Cluster, clusterField = o.Cluster, "--cluster"
	}
	if o.User != "" {
		ctx.User, userField = o.User, "--user"
	}
	var cl fileCluster
	if ctx.Cluster != "" {
		var ok bool
		if cl, ok = m.clusters[ctx.Cluster]; !ok {
			return nil, &Error{File: m.files["context/"+name], Field: clusterField,
				Err: fmt.Errorf("cluster %q does not exist", ctx.Cluster)}
		}
	}
	if err := o.applyCluster(&cl, opts.Server); err != nil {
		return nil, err
	}
	if err := cc.setCluster(cl, ctx.Cluster, m.files["cluster/"+ctx.Cluster]); err != nil {
		return nil, err
	}
	if cc.Server == "" {
		return nil, &Error{File: m.files["cluster/"+ctx.Cluster], Field: "clusters[" + ctx.Cluster + "].server",
			Err: errors.New("no server defined")}
	}
	var u fileUser
	if ctx.User != "" {
		var ok bool
		if u, ok = m.users[ctx.User]; !ok {
			return nil, &Error{File: m.files["context/"+name], Field: userField,
				Err: fmt.Errorf("user %q does not exist", ctx.User)}
		}
	}
	if err := o.applyUser(&u); err != nil {
		return nil, err
	}
	if err := cc.setUser(u, ctx.User, m.files["user/"+ctx.User]); err != nil {
		return nil, err
	}
	return cc, nil
}

// applyCluster lays the flags over the cluster as clientcmd does: the
// authority and the insecure setting go together, and --server brings its
// own --tls-server-name (empty or not).
func (o *Overrides) applyCluster(cl *fileCluster, server string) error {
	if server != "" {
		cl.Server = server
	}
	if o.CertificateAuthority != "" || o.InsecureSkipTLSVerify {
		ca, err := absPath(o.CertificateAuthority)
		if err != nil {
			return err
		}
		cl.CertificateAuthority, cl.CertificateAuthorityData, cl.InsecureSkipTLSVerify = ca, "", o.InsecureSkipTLSVerify
	}
	if o.TLSServerName != "" || server != "" {
		cl.TLSServerName = o.TLSServerName
	}
	return nil
}

// applyUser lays the flags over the user: each set flag replaces its
// field (a certificate or key replaces the inline data too; a token, a
// token file).
func (o *Overrides) applyUser(u *fileUser) error {
	if o.ClientCertificate != "" || o.ClientKey != "" {
		cert, err := absPath(o.ClientCertificate)
		if err != nil {
			return err
		}
		key, err := absPath(o.ClientKey)
		if err != nil {
			return err
		}
		if cert != "" {
			u.ClientCertificate, u.ClientCertificateData = cert, ""
		}
		if key != "" {
			u.ClientKey, u.ClientKeyData = key, ""
		}
	}
	if o.Token != "" {
		u.Token, u.TokenFile = o.Token, ""
	}
	if o.Username != "" {
		u.Username = o.Username
	}
	if o.Password != "" {
		u.Password = o.Password
	}
	if o.Impersonate != "" {
		u.As = o.Impersonate
	}
	if o.ImpersonateUID != "" {
		u.AsUID = o.ImpersonateUID
	}
	if len(o.ImpersonateGroups) > 0 {
		u.AsGroups = o.ImpersonateGroups
	}
	return nil
}

// absPath makes a flag's file path absolute: flags are relative to the
// working directory, not to a kubeconfig.
func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", p, err)
	}
	return a, nil
}

func (cc *ClientConfig) setCluster(cl fileCluster, name, file string) error {
	field := func(f string) string { return "clusters[" + name + "]." + f }
	cc.Server = cl.Server
	cc.TLSServerName = cl.TLSServerName
	cc.InsecureSkipTLSVerify = cl.InsecureSkipTLSVerify
	if cl.ProxyURL != "" {
		u, err := url.Parse(cl.ProxyURL)
		if err != nil || u.Host == "" {
			return &Error{File: file, Field: field("proxy-url"), Err: fmt.Errorf("invalid proxy URL %q", cl.ProxyURL)}
		}
		switch u.Scheme {
		case "http", "https", "socks5":
		default:
			return &Error{File: file, Field: field("proxy-url"), Err: fmt.Errorf("unsupported proxy scheme %q (want http, https or socks5)", u.Scheme)}
		}
		cc.ProxyURL = cl.ProxyURL
	}
	if cc.Server != "" {
		if _, err := url.Parse(cc.Server); err != nil {
			return &Error{File: file, Field: field("server"), Err: fmt.Errorf("invalid server URL %q", cc.Server)}
		}
	}
	var err error
	cc.CAData, err = dataOrFile(cl.CertificateAuthorityData, cl.CertificateAuthority, cl.dir)
	if err != nil {
		return &Error{File: file, Field: field(which(cl.CertificateAuthorityData, "certificate-authority")), Err: err}
	}
	if cc.InsecureSkipTLSVerify && len(cc.CAData) > 0 {
		return &Error{File: file, Field: field("insecure-skip-tls-verify"),
			Err: errors.New("specifying a root certificates file with the insecure flag is not allowed")}
	}
	return nil
}

func (cc *ClientConfig) setUser(u fileUser, name, file string) error {
	field := func(f string) string { return "users[" + name + "]." + f }
	if u.AuthProvider != nil {
		return &Error{File: file, Field: field("auth-provider"),
			Err: errors.New("auth providers were removed from kubectl; use an exec plugin")}
	}
	var err error
	if cc.CertData, err = dataOrFile(u.ClientCertificateData, u.ClientCertificate, u.dir); err != nil {
		return &Error{File: file, Field: field(which(u.ClientCertificateData, "client-certificate")), Err: err}
	}
	if cc.KeyData, err = dataOrFile(u.ClientKeyData, u.ClientKey, u.dir); err != nil {
		return &Error{File: file, Field: field(which(u.ClientKeyData, "client-key")), Err: err}
	}
	if (len(cc.CertData) > 0) != (len(cc.KeyData) > 0) {
		return &Error{File: file, Field: field("client-certificate"),
			Err: errors.New("client certificate and client key must be given together")}
	}
	cc.Token = u.Token
	if u.TokenFile != "" {
		cc.TokenFile = resolvePath(u.TokenFile, u.dir)
	}
	cc.Username, cc.Password = u.Username, u.Password
	cc.Impersonate, cc.ImpersonateUID, cc.ImpersonateGroups = u.As, u.AsUID, u.AsGroups
	if u.Exec != nil {
		e := *u.Exec
		if e.Command == "" {
			return &Error{File: file, Field: field("exec.command"), Err: errors.New("missing command")}
		}
		switch e.APIVersion {
		case ExecV1, ExecV1beta1:
		default:
			return &Error{File: file, Field: field("exec.apiVersion"),
				Err: fmt.Errorf("unsupported %q (want %s or %s)", e.APIVersion, ExecV1, ExecV1beta1)}
		}
		if e.APIVersion == ExecV1 && e.InteractiveMode == "" {
			return &Error{File: file, Field: field("exec.interactiveMode"), Err: errors.New("required for " + ExecV1)}
		}
		e.Dir = u.dir
		if e.ProvideClusterInfo {
			e.Cluster = map[string]any{"server": cc.Server, "tls-server-name": cc.TLSServerName,
				"insecure-skip-tls-verify": cc.InsecureSkipTLSVerify, "proxy-url": cc.ProxyURL,
				"certificate-authority-data": base64.StdEncoding.EncodeToString(cc.CAData)}
		}
		cc.Exec = &e
	}
	return nil
}

// which names the field a value came from: the -data one when set.
func which(data, file string) string {
	if data != "" {
		return file + "-data"
	}
	return file
}

// dataOrFile decodes base64 inline data, else reads the file (relative to
// dir). Inline data wins, as in clientcmd.
func dataOrFile(data, file, dir string) ([]byte, error) {
	if data != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
		if err != nil {
			return nil, fmt.Errorf("invalid base64: %w", err)
		}
		return b, nil
	}
	if file == "" {
		return nil, nil
	}
	return readKubeconfig(resolvePath(file, dir)) // bounded: /dev/zero is a path too
}

// resolvePath makes a relative path relative to the kubeconfig's directory.
func resolvePath(p, dir string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}
