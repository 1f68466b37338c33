package kubeconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Exec credential API versions (client.authentication.k8s.io).
const (
	ExecV1      = "client.authentication.k8s.io/v1"
	ExecV1beta1 = "client.authentication.k8s.io/v1beta1"
)

// maxExecOutput bounds what a credential plugin may print.
const maxExecOutput = 1 << 20

// Credential is what an exec plugin returned.
type Credential struct {
	Token    string
	CertData []byte // PEM client certificate, with KeyData
	KeyData  []byte
	// Expiry is when the credential must be fetched again; zero: never.
	Expiry time.Time
}

// ExecPlugin runs a kubeconfig exec credential plugin and caches its answer
// until the expiration it states. Safe for concurrent use: one run at a
// time, later callers wait for it (or their ctx).
type ExecPlugin struct {
	cfg    ExecConfig
	stderr io.Writer
	now    func() time.Time
	sem    chan struct{} // one run at a time; never held while idle
	cached *Credential   // guarded by sem
}

// NewExecPlugin returns a plugin runner for cfg; the plugin's stderr goes to
// stderr (nil: discarded), as kubectl lets it talk to the user.
func NewExecPlugin(cfg *ExecConfig, stderr io.Writer) *ExecPlugin {
	if stderr == nil {
		stderr = io.Discard
	}
	return &ExecPlugin{cfg: *cfg, stderr: stderr, now: time.Now, sem: make(chan struct{}, 1)}
}

// Credential returns the cached credential, running the plugin when there
// is none or it expired.
func (p *ExecPlugin) Credential(ctx context.Context) (*Credential, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.sem }()
	if c := p.cached; c != nil && (c.Expiry.IsZero() || p.now().Before(c.Expiry)) {
		return c, nil
	}
	c, err := p.run(ctx)
	if err != nil {
		return nil, err
	}
	p.cached = c
	return c, nil
}

// Invalidate drops the cached credential (after the server refused it).
func (p *ExecPlugin) Invalidate() {
	p.sem <- struct{}{}
	p.cached = nil
	<-p.sem
}

// run starts the plugin with its args and env plus KUBERNETES_EXEC_INFO,
// and decodes the ExecCredential it prints.
func (p *ExecPlugin) run(ctx context.Context) (*Credential, error) {
	name := p.cfg.Command
	if strings.ContainsRune(name, filepath.Separator) && !filepath.IsAbs(name) {
		name = filepath.Join(p.cfg.Dir, name)
	}
	cmd := exec.CommandContext(ctx, name, p.cfg.Args...)
	cmd.Env = os.Environ()
	for _, e := range p.cfg.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	spec := map[string]any{"interactive": false}
	if p.cfg.Cluster != nil {
		spec["cluster"] = p.cfg.Cluster
	}
	info, _ := json.Marshal(map[string]any{"apiVersion": p.cfg.APIVersion, "kind": "ExecCredential", "spec": spec})
	cmd.Env = append(cmd.Env, "KUBERNETES_EXEC_INFO="+string(info))
	var out bytes.Buffer
	cmd.Stdout = &limitedBuffer{buf: &out, max: maxExecOutput}
	cmd.Stderr = p.stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) && p.cfg.InstallHint != "" {
			return nil, fmt.Errorf("exec plugin %s: %w\n\n%s", p.cfg.Command, err, p.cfg.InstallHint)
		}
		return nil, fmt.Errorf("exec plugin %s: %w", p.cfg.Command, err)
	}
	c, err := ParseExecCredential(out.Bytes(), p.cfg.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("exec plugin %s: %w", p.cfg.Command, err)
	}
	return c, nil
}

// ParseExecCredential decodes a plugin's output: an ExecCredential of the
// expected apiVersion with a token or a client certificate and key.
func ParseExecCredential(data []byte, apiVersion string) (*Credential, error) {
	var ec struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Status     *struct {
			Token                 string     `json:"token"`
			ClientCertificateData string     `json:"clientCertificateData"`
			ClientKeyData         string     `json:"clientKeyData"`
			ExpirationTimestamp   *time.Time `json:"expirationTimestamp"`
		} `json:"status"`
	}
	if err := json.Unmarshal(data, &ec); err != nil {
		return nil, fmt.Errorf("decode ExecCredential: %w", err)
	}
	switch {
	case ec.Kind != "ExecCredential":
		return nil, fmt.Errorf("kind %q, want ExecCredential", ec.Kind)
	case ec.APIVersion != apiVersion:
		return nil, fmt.Errorf("apiVersion %q, want %q", ec.APIVersion, apiVersion)
	case ec.Status == nil:
		return nil, errors.New("ExecCredential has no status")
	}
	s := ec.Status
	c := &Credential{Token: s.Token, CertData: []byte(s.ClientCertificateData), KeyData: []byte(s.ClientKeyData)}
	if s.ExpirationTimestamp != nil {
		c.Expiry = *s.ExpirationTimestamp
	}
	if (len(c.CertData) > 0) != (len(c.KeyData) > 0) {
		return nil, errors.New("ExecCredential has a client certificate without key, or a key without certificate")
	}
	if c.Token == "" && len(c.CertData) == 0 {
		return nil, errors.New("ExecCredential has neither token nor client certificate")
	}
	return c, nil
}

// limitedBuffer fails writes beyond max, so a runaway plugin cannot fill
// memory.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		return 0, fmt.Errorf("output larger than %d bytes", b.max)
	}
	return b.buf.Write(p)
}
