package kubeconfig

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Config is the part of a v1 Config that porthole writes: named clusters,
// users and contexts, and the current context.
type Config struct {
	APIVersion     string         `yaml:"apiVersion"`
	Kind           string         `yaml:"kind"`
	Clusters       []NamedCluster `yaml:"clusters"`
	Users          []NamedUser    `yaml:"users"`
	Contexts       []NamedContext `yaml:"contexts"`
	CurrentContext string         `yaml:"current-context"`
	Preferences    struct{}       `yaml:"preferences"`
}

// NamedCluster is a cluster entry.
type NamedCluster struct {
	Name    string  `yaml:"name"`
	Cluster Cluster `yaml:"cluster"`
}

// Cluster is where the API server is and, for HTTPS, the authority its
// certificate is checked against.
type Cluster struct {
	Server string `yaml:"server"`
	// CertificateAuthorityData is base64 of PEM, as kubeconfigs carry it.
	CertificateAuthorityData string `yaml:"certificate-authority-data,omitempty"`
}

// NamedUser is a user entry.
type NamedUser struct {
	Name string `yaml:"name"`
	User User   `yaml:"user"`
}

// User is a user's credential: a bearer token, or none.
type User struct {
	Token string `yaml:"token,omitempty"`
}

// NamedContext is a context entry.
type NamedContext struct {
	Name    string  `yaml:"name"`
	Context Context `yaml:"context"`
}

// Context ties a cluster, a user and a default namespace together.
type Context struct {
	Cluster   string `yaml:"cluster"`
	User      string `yaml:"user"`
	Namespace string `yaml:"namespace,omitempty"`
}

// New returns a config with one cluster, one user without
// credentials and one context, all named context, selected as current.
func New(server, context, namespace string) *Config {
	return &Config{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []NamedCluster{{Name: context, Cluster: Cluster{Server: server}}},
		Users:          []NamedUser{{Name: context}},
		Contexts:       []NamedContext{{Name: context, Context: Context{Cluster: context, User: context, Namespace: namespace}}},
		CurrentContext: context,
	}
}

// Write writes New(server, context, namespace) to path as
// YAML with mode 0600, replacing any file there. The file is written under a
// temporary name in the same directory and renamed, so a reader never sees
// half a config.
func Write(path, server, context, namespace string) error {
	return WriteFile(path, New(server, context, namespace))
}

// WriteFile writes kc to path as Write does.
func WriteFile(path string, kc *Config) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(kc); err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	data := buf.Bytes()
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // CreateTemp uses 0600 already; be explicit
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
