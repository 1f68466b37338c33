package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxSize bounds one kubeconfig file; kubeconfigs are small.
const MaxSize = 16 << 20

// LoadOptions are kubectl's kubeconfig flags and environment.
type LoadOptions struct {
	// Path is --kubeconfig: the only file read, which must exist.
	Path string
	// Env is the value of KUBECONFIG: files separated by the OS list
	// separator, merged (missing ones skipped). Used when Path is empty.
	Env string
	// Home is the user's home directory: ~/.kube/config is read when both
	// Path and Env are empty.
	Home string
	// Context is --context (default: the merged current-context).
	Context string
	// Namespace is -n/--namespace (default: the context's, else "default").
	Namespace string
	// Server is --server, replacing the cluster's server.
	Server string
	// Overrides are kubectl's other connection flags.
	Overrides Overrides
}

// Overrides are the flags that replace parts of the kubeconfig, with
// clientcmd's precedence: a non-empty value replaces the kubeconfig's.
type Overrides struct {
	// Cluster and User (--cluster, --user) replace the context's names.
	Cluster, User string
	// CertificateAuthority (--certificate-authority, a file) and
	// InsecureSkipTLSVerify replace the cluster's authority and insecure
	// setting together: either one set clears the other's kubeconfig value.
	CertificateAuthority  string
	InsecureSkipTLSVerify bool
	// TLSServerName (--tls-server-name) replaces the cluster's; with
	// --server it applies even when empty, as the kubeconfig's name was for
	// the kubeconfig's server.
	TLSServerName string
	// ClientCertificate and ClientKey (files) replace the user's.
	ClientCertificate, ClientKey string
	// Token (--token) replaces the user's token.
	Token string
	// Username and Password (--username, --password) replace the user's.
	Username, Password string
	// Impersonate, ImpersonateUID and ImpersonateGroups (--as, --as-uid,
	// --as-group) replace the user's act-as settings.
	Impersonate, ImpersonateUID string
	ImpersonateGroups           []string
}

// ClientConfig is what a client needs from a kubeconfig: the resolved
// cluster, user and namespace of one context. Relative file paths are
// already resolved against the directory of the file that named them.
type ClientConfig struct {
	Context   string
	Namespace string

	Server                string
	TLSServerName         string
	InsecureSkipTLSVerify bool
	CAData                []byte // PEM, from certificate-authority(-data)
	ProxyURL              string

	CertData, KeyData []byte // PEM, from client-certificate(-data) and client-key(-data)
	Token             string
	TokenFile         string
	Username          string
	Password          string
	Impersonate       string
	ImpersonateUID    string
	ImpersonateGroups []string
	Exec              *ExecConfig
}

// ExecConfig is a user's exec credential plugin (client.authentication.k8s.io).
type ExecConfig struct {
	APIVersion         string       `yaml:"apiVersion"`
	Command            string       `yaml:"command"`
	Args               []string     `yaml:"args"`
	Env                []ExecEnvVar `yaml:"env"`
	InstallHint        string       `yaml:"installHint"`
	ProvideClusterInfo bool         `yaml:"provideClusterInfo"`
	InteractiveMode    string       `yaml:"interactiveMode"`
	// Cluster is the spec.cluster the plugin gets in KUBERNETES_EXEC_INFO
	// when ProvideClusterInfo is set (filled by the loader).
	Cluster map[string]any `yaml:"-"`
	// Dir is the directory of the kubeconfig that declared the plugin: a
	// relative command with a path separator is resolved against it.
	Dir string `yaml:"-"`
}

// ExecEnvVar is one environment variable given to the plugin.
type ExecEnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// The v1 Config shape as kubectl reads it; only what porthole uses.
type (
	fileConfig struct {
		CurrentContext string             `yaml:"current-context"`
		Clusters       []fileNamedCluster `yaml:"clusters"`
		Users          []fileNamedUser    `yaml:"users"`
		Contexts       []fileNamedContext `yaml:"contexts"`
	}
	fileNamedCluster struct {
		Name    string      `yaml:"name"`
		Cluster fileCluster `yaml:"cluster"`
	}
	fileCluster struct {
		Server                   string `yaml:"server"`
		TLSServerName            string `yaml:"tls-server-name"`
		InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
		CertificateAuthority     string `yaml:"certificate-authority"`
		CertificateAuthorityData string `yaml:"certificate-authority-data"`
		ProxyURL                 string `yaml:"proxy-url"`
		dir                      string
	}
	fileNamedUser struct {
		Name string   `yaml:"name"`
		User fileUser `yaml:"user"`
	}
	fileUser struct {
		ClientCertificate     string         `yaml:"client-certificate"`
		ClientCertificateData string         `yaml:"client-certificate-data"`
		ClientKey             string         `yaml:"client-key"`
		ClientKeyData         string         `yaml:"client-key-data"`
		Token                 string         `yaml:"token"`
		TokenFile             string         `yaml:"tokenFile"`
		Username              string         `yaml:"username"`
		Password              string         `yaml:"password"`
		As                    string         `yaml:"as"`
		AsGroups              []string       `yaml:"as-groups"`
		AsUID                 string         `yaml:"as-uid"`
		Exec                  *ExecConfig    `yaml:"exec"`
		AuthProvider          map[string]any `yaml:"auth-provider"`
		dir                   string
	}
	fileNamedContext struct {
		Name    string      `yaml:"name"`
		Context fileContext `yaml:"context"`
	}
	fileContext struct {
		Cluster   string `yaml:"cluster"`
		User      string `yaml:"user"`
		Namespace string `yaml:"namespace"`
	}
)

// Error names the file and field of a bad kubeconfig.
type Error struct {
	File  string // "" when the problem is in the merged result
	Field string // "users[dev].client-key-data"
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kubeconfig")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoConfig means no kubeconfig file was found and --server was not given.
var ErrNoConfig = errors.New("no configuration has been provided, try setting KUBECONFIG or --kubeconfig")

// merged is the union of the files, first definition of a name winning.
type merged struct {
	current  string
	clusters map[string]fileCluster
	users    map[string]fileUser
	contexts map[string]fileContext
	files    map[string]string // "cluster/NAME" -> file that defined it
}

// Load reads the kubeconfig files as kubectl does and resolves one
// context. Merging follows clientcmd: with several KUBECONFIG files the
// first file to define a cluster, user or context name wins (entries are
// never merged field by field), and the first non-empty current-context wins.
func Load(opts *LoadOptions) (*ClientConfig, error) {
	if opts == nil {
		opts = &LoadOptions{}
	}
	m := &merged{clusters: map[string]fileCluster{}, users: map[string]fileUser{},
		contexts: map[string]fileContext{}, files: map[string]string{}}
	files, required := kubeconfigFiles(opts)
	found := false
	for _, f := range files {
		data, err := readKubeconfig(f)
		if errors.Is(err, fs.ErrNotExist) && !required {
			continue
		}
		if err != nil {
			return nil, &Error{File: f, Err: err}
		}
		found = true
		cfg, err := Parse(data)
		if err != nil {
			return nil, &Error{File: f, Err: err}
		}
		m.add(cfg, f)
	}
	if !found && opts.Server == "" {
		return nil, ErrNoConfig
	}
	return m.resolve(opts)
}

// kubeconfigFiles lists the files to read and whether they must exist.
func kubeconfigFiles(opts *LoadOptions) ([]string, bool) {
	switch {
	case opts.Path != "":
		return []string{opts.Path}, true
	case opts.Env != "":
		var files []string
		seen := map[string]bool{}
		for _, f := range filepath.SplitList(opts.Env) {
			if f != "" && !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
		return files, false
	case opts.Home != "":
		return []string{filepath.Join(opts.Home, ".kube", "config")}, false
	}
	return nil, false
}

func readKubeconfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if n > MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	return buf.Bytes(), nil
}

// Parse decodes one kubeconfig document (YAML or JSON). Unknown
// fields are ignored, as kubectl ignores them; wrong types are errors with
// their line.
func Parse(data []byte) (*fileConfigView, error) {
	var cfg fileConfig
	if len(bytes.TrimSpace(data)) == 0 {
		return &fileConfigView{&cfg}, nil
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, err
	}
	return &fileConfigView{&cfg}, nil
}

// fileConfigView keeps the parsed shape unexported while letting
// Parse be fuzzed and tested from outside.
type fileConfigView struct{ cfg *fileConfig }

func (m *merged) add(v *fileConfigView, file string) {
	cfg, dir := v.cfg, filepath.Dir(file)
	if m.current == "" {
		m.current = cfg.CurrentContext
	}
	for _, c := range cfg.Clusters {
		if _, ok := m.clusters[c.Name]; !ok {
			c.Cluster.dir = dir
			m.clusters[c.Name] = c.Cluster
			m.files["cluster/"+c.Name] = file
		}
	}
	for _, u := range cfg.Users {
		if _, ok := m.users[u.Name]; !ok {
			u.User.dir = dir
			m.users[u.Name] = u.User
			m.files["user/"+u.Name] = file
		}
	}
	for _, c := range cfg.Contexts {
		if _, ok := m.contexts[c.Name]; !ok {
			m.contexts[c.Name] = c.Context
			m.files["context/"+c.Name] = file
		}
	}
}
