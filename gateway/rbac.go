package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/porthole/porthole/kube"
)

// RBAC evaluates Role, ClusterRole, RoleBinding and ClusterRoleBinding
// objects (rbac.authorization.k8s.io/v1) as the API server's RBAC
// authorizer does for namespaced resource requests: a RoleBinding grants
// its Role or ClusterRole within its namespace, a ClusterRoleBinding grants
// its ClusterRole everywhere. Only allow rules exist; no match is a denial.
// It is immutable once loaded and safe for concurrent use.
type RBAC struct {
	roles           map[string][]rule // "ns/name"
	clusterRoles    map[string][]rule
	bindings        []binding
	clusterBindings []binding
}

type rule struct {
	APIGroups     []string `yaml:"apiGroups"`
	Resources     []string `yaml:"resources"`
	Verbs         []string `yaml:"verbs"`
	ResourceNames []string `yaml:"resourceNames"`
}

type subject struct {
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type binding struct {
	namespace string
	subjects  []subject
	roleKind  string
	roleName  string
}

type rbacObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Rules    []rule    `yaml:"rules"`
	Subjects []subject `yaml:"subjects"`
	RoleRef  struct {
		Kind string `yaml:"kind"`
		Name string `yaml:"name"`
	} `yaml:"roleRef"`
	Items []yaml.Node `yaml:"items"`
}

// NewRBAC returns an empty RBAC, which denies everything.
func NewRBAC() *RBAC {
	return &RBAC{roles: map[string][]rule{}, clusterRoles: map[string][]rule{}}
}

// LoadFile adds the objects of a YAML file (several documents, or a List).
func (a *RBAC) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open rbac file: %w", err)
	}
	defer f.Close()
	if err := a.Load(f); err != nil {
		return fmt.Errorf("rbac file %s: %w", path, err)
	}
	return nil
}

// Load adds the objects in r. Other kinds are an error, so a typo does not
// silently grant nothing.
func (a *RBAC) Load(r io.Reader) error {
	dec := yaml.NewDecoder(io.LimitReader(r, 16<<20))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if err := a.addNode(&n); err != nil {
			return err
		}
	}
}

func (a *RBAC) addNode(n *yaml.Node) error {
	var o rbacObject
	if err := n.Decode(&o); err != nil {
		return fmt.Errorf("decode object: %w", err)
	}
	if o.Kind == "" && o.APIVersion == "" {
		return nil // empty document
	}
	if o.Kind == "List" || strings.HasSuffix(o.Kind, "List") {
		for i := range o.Items {
			if err := a.addNode(&o.Items[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if o.APIVersion != "rbac.authorization.k8s.io/v1" {
		return fmt.Errorf("%s %q: apiVersion %q is not rbac.authorization.k8s.io/v1", o.Kind, o.Metadata.Name, o.APIVersion)
	}
	if o.Metadata.Name == "" {
		return fmt.Errorf("%s without metadata.name", o.Kind)
	}
	ns := o.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	switch o.Kind {
	case "Role":
		a.roles[ns+"/"+o.Metadata.Name] = o.Rules
	case "ClusterRole":
		a.clusterRoles[o.Metadata.Name] = o.Rules
	case "RoleBinding", "ClusterRoleBinding":
		if o.RoleRef.Kind != "Role" && o.RoleRef.Kind != "ClusterRole" {
			return fmt.Errorf("%s %q: roleRef.kind %q", o.Kind, o.Metadata.Name, o.RoleRef.Kind)
		}
		b := binding{namespace: ns, subjects: o.Subjects, roleKind: o.RoleRef.Kind, roleName: o.RoleRef.Name}
		if o.Kind == "ClusterRoleBinding" {
			if b.roleKind != "ClusterRole" {
				return fmt.Errorf("ClusterRoleBinding %q: roleRef must be a ClusterRole", o.Metadata.Name)
			}
			a.clusterBindings = append(a.clusterBindings, b)
		} else {
			a.bindings = append(a.bindings, b)
		}
	default:
		return fmt.Errorf("unsupported kind %q (want Role, ClusterRole, RoleBinding, ClusterRoleBinding)", o.Kind)
	}
	return nil
}

// Authorize implements Authorizer.
func (a *RBAC) Authorize(_ context.Context, at Attributes) (bool, error) {
	for _, b := range a.clusterBindings {
		if b.matches(at.User) && rulesAllow(a.clusterRoles[b.roleName], at) {
			return true, nil
		}
	}
	if at.Namespace == "" {
		return false, nil
	}
	for _, b := range a.bindings {
		if b.namespace != at.Namespace || !b.matches(at.User) {
			continue
		}
		rules := a.clusterRoles[b.roleName]
		if b.roleKind == "Role" {
			rules = a.roles[b.namespace+"/"+b.roleName]
		}
		if rulesAllow(rules, at) {
			return true, nil
		}
	}
	return false, nil
}

// RulesFor implements RuleLister: the rules of every binding of u that
// applies in namespace (cluster bindings everywhere, role bindings in
// their own namespace), as the API server's rules review lists them.
func (a *RBAC) RulesFor(u *User, namespace string) []kube.ResourceRule {
	var out []kube.ResourceRule
	add := func(rules []rule) {
		for _, r := range rules {
			out = append(out, kube.ResourceRule{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
		}
	}
	for _, b := range a.clusterBindings {
		if b.matches(u) {
			add(a.clusterRoles[b.roleName])
		}
	}
	for _, b := range a.bindings {
		if namespace == "" || b.namespace != namespace || !b.matches(u) {
			continue
		}
		if b.roleKind == "Role" {
			add(a.roles[b.namespace+"/"+b.roleName])
		} else {
			add(a.clusterRoles[b.roleName])
		}
	}
	return out
}

func (b binding) matches(u *User) bool {
	if u == nil {
		return false
	}
	for _, s := range b.subjects {
		switch s.Kind {
		case "User":
			if s.Name == u.Name {
				return true
			}
		case "Group":
			if slices.Contains(u.Groups, s.Name) {
				return true
			}
		case "ServiceAccount":
			ns := s.Namespace
			if ns == "" {
				ns = b.namespace
			}
			if u.Name == "system:serviceaccount:"+ns+":"+s.Name {
				return true
			}
		}
	}
	return false
}

func rulesAllow(rules []rule, at Attributes) bool {
	for _, r := range rules {
		if r.allows(at) {
			return true
		}
	}
	return false
}

func (r rule) allows(at Attributes) bool {
	if !slices.Contains(r.APIGroups, at.APIGroup) && !slices.Contains(r.APIGroups, "*") {
		return false
	}
	if !slices.Contains(r.Verbs, at.Verb) && !slices.Contains(r.Verbs, "*") {
		return false
	}
	if len(r.ResourceNames) > 0 && !slices.Contains(r.ResourceNames, at.Name) {
		return false
	}
	want := at.resourceString()
	for _, res := range r.Resources {
		if res == "*" || res == want {
			return true
		}
		if at.Subresource != "" && res == "*/"+at.Subresource {
			return true
		}
	}
	return false
}
