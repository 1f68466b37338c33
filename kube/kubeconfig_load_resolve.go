package kube

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// resolve picks the context and fills a ClientConfig from its cluster and
// user, reading referenced files and decoding inline data.
func (m *merged) resolve(opts *LoadOptions) (*ClientConfig, error) {
	name := opts.Context
	if name == "" {
		name = m.current
	}
	cc := &ClientConfig{Context: name}
	var ctx fileContext
	if name != "" {
		var ok bool
		if ctx, ok = m.contexts[name]; !ok {
			return nil, &KubeconfigError{Err: fmt.Errorf("context %q does not exist", name)}
		}
	} else if opts.Server == "" {
		return nil, &KubeconfigError{Err: errors.New("no current-context is set and no --context was given")}
	}
	cc.Namespace = ctx.Namespace
	if opts.Namespace != "" {
		cc.Namespace = opts.Namespace
	}
	if cc.Namespace == "" {
		cc.Namespace = DefaultNamespace
	}
	if ctx.Cluster != "" {
		cl, ok := m.clusters[ctx.Cluster]
		if !ok {
			return nil, &KubeconfigError{File: m.files["context/"+name], Field: "contexts[" + name + "].cluster",
				Err: fmt.Errorf("cluster %q does not exist", ctx.Cluster)}
		}
		if err := cc.setCluster(cl, ctx.Cluster, m.files["cluster/"+ctx.Cluster]); err != nil {
			return nil, err
		}
	}
	if opts.Server != "" {
		cc.Server = opts.Server
	}
	if cc.Server == "" {
		return nil, &KubeconfigError{File: m.files["cluster/"+ctx.Cluster], Field: "clusters[" + ctx.Cluster + "].server",
			Err: errors.New("no server defined")}
	}
	if ctx.User != "" {
		u, ok := m.users[ctx.User]
		if !ok {
			return nil, &KubeconfigError{File: m.files["context/"+name], Field: "contexts[" + name + "].user",
				Err: fmt.Errorf("user %q does not exist", ctx.User)}
		}
		if err := cc.setUser(u, ctx.User, m.files["user/"+ctx.User]); err != nil {
			return nil, err
		}
	}
	return cc, nil
}

func (cc *ClientConfig) setCluster(cl fileCluster, name, file string) error {
	field := func(f string) string { return "clusters[" + name + "]." + f }
	cc.Server = cl.Server
	cc.TLSServerName = cl.TLSServerName
	cc.InsecureSkipTLSVerify = cl.InsecureSkipTLSVerify
	if cl.ProxyURL != "" {
		u, err := url.Parse(cl.ProxyURL)
		if err != nil || u.Host == "" {
			return &KubeconfigError{File: file, Field: field("proxy-url"), Err: fmt.Errorf("invalid proxy URL %q", cl.ProxyURL)}
		}
		switch u.Scheme {
		case "http", "https":
		default:
			return &KubeconfigError{File: file, Field: field("proxy-url"), Err: fmt.Errorf("unsupported proxy scheme %q (want http or https)", u.Scheme)}
		}
		cc.ProxyURL = cl.ProxyURL
	}
	if cc.Server != "" {
		if _, err := url.Parse(cc.Server); err != nil {
			return &KubeconfigError{File: file, Field: field("server"), Err: fmt.Errorf("invalid server URL %q", cc.Server)}
		}
	}
	var err error
	cc.CAData, err = dataOrFile(cl.CertificateAuthorityData, cl.CertificateAuthority, cl.dir)
	if err != nil {
		return &KubeconfigError{File: file, Field: field(which(cl.CertificateAuthorityData, "certificate-authority")), Err: err}
	}
	if cc.InsecureSkipTLSVerify && len(cc.CAData) > 0 {
		return &KubeconfigError{File: file, Field: field("insecure-skip-tls-verify"),
			Err: errors.New("specifying a root certificates file with the insecure flag is not allowed")}
	}
	return nil
}

func (cc *ClientConfig) setUser(u fileUser, name, file string) error {
	field := func(f string) string { return "users[" + name + "]." + f }
	if u.AuthProvider != nil {
		return &KubeconfigError{File: file, Field: field("auth-provider"),
			Err: errors.New("auth providers were removed from kubectl; use an exec plugin")}
	}
	var err error
	if cc.CertData, err = dataOrFile(u.ClientCertificateData, u.ClientCertificate, u.dir); err != nil {
		return &KubeconfigError{File: file, Field: field(which(u.ClientCertificateData, "client-certificate")), Err: err}
	}
	if cc.KeyData, err = dataOrFile(u.ClientKeyData, u.ClientKey, u.dir); err != nil {
		return &KubeconfigError{File: file, Field: field(which(u.ClientKeyData, "client-key")), Err: err}
	}
	if (len(cc.CertData) > 0) != (len(cc.KeyData) > 0) {
		return &KubeconfigError{File: file, Field: field("client-certificate"),
			Err: errors.New("client certificate and client key must be given together")}
	}
	cc.Token = u.Token
	if u.TokenFile != "" {
		cc.TokenFile = resolvePath(u.TokenFile, u.dir)
	}
	cc.Username, cc.Password = u.Username, u.Password
	cc.Impersonate, cc.ImpersonateGroups = u.As, u.AsGroups
	if u.Exec != nil {
		e := *u.Exec
		if e.Command == "" {
			return &KubeconfigError{File: file, Field: field("exec.command"), Err: errors.New("missing command")}
		}
		switch e.APIVersion {
		case ExecV1, ExecV1beta1:
		default:
			return &KubeconfigError{File: file, Field: field("exec.apiVersion"),
				Err: fmt.Errorf("unsupported %q (want %s or %s)", e.APIVersion, ExecV1, ExecV1beta1)}
		}
		if e.APIVersion == ExecV1 && e.InteractiveMode == "" {
			return &KubeconfigError{File: file, Field: field("exec.interactiveMode"), Err: errors.New("required for " + ExecV1)}
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
