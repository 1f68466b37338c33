package kube

import (
	"errors"
	"fmt"
	"strconv"
)

// Validate checks what the local runtime and the API need from a pod: a
// DNS-1123 subdomain name, a DNS-1123 label namespace, at least one
// container, unique DNS-1123 label container names, known restart policy,
// valid ports and env names. The error names the field, as in
// "spec.containers[1].name: ...".
func (p *Pod) Validate() error {
	if fe := validatePod(p); fe != nil {
		return errors.New(fe.field + ": " + fe.msg)
	}
	return nil
}

func validatePod(p *Pod) *fieldError {
	if p.Name == "" {
		return &fieldError{"metadata.name", "required"}
	}
	if msg := checkSubdomain(p.Name); msg != "" {
		return &fieldError{"metadata.name", invalid(p.Name, msg)}
	}
	if p.Namespace != "" {
		if msg := checkLabel(p.Namespace); msg != "" {
			return &fieldError{"metadata.namespace", invalid(p.Namespace, msg)}
		}
	}
	switch p.Spec.RestartPolicy {
	case "", "Always", "OnFailure", "Never":
	default:
		return &fieldError{"spec.restartPolicy", fmt.Sprintf("unsupported value %q: must be Always, OnFailure or Never", p.Spec.RestartPolicy)}
	}
	if len(p.Spec.Containers) == 0 {
		return &fieldError{"spec.containers", "at least one container is required"}
	}
	names := make(map[string]string)
	for i := range p.Spec.InitContainers {
		if fe := validateContainer(&p.Spec.InitContainers[i], "spec.initContainers["+strconv.Itoa(i)+"]", names); fe != nil {
			return fe
		}
	}
	for i := range p.Spec.Containers {
		if fe := validateContainer(&p.Spec.Containers[i], "spec.containers["+strconv.Itoa(i)+"]", names); fe != nil {
			return fe
		}
	}
	return nil
}

// validateContainer checks one container; names maps the container names seen
// so far to their paths, for duplicate errors that point at both.
func validateContainer(c *Container, path string, names map[string]string) *fieldError {
	if c.Name == "" {
		return &fieldError{path + ".name", "required"}
	}
	if msg := checkLabel(c.Name); msg != "" {
		return &fieldError{path + ".name", invalid(c.Name, msg)}
	}
	if prev, dup := names[c.Name]; dup {
		return &fieldError{path + ".name", fmt.Sprintf("duplicate container name %q (also %s)", c.Name, prev)}
	}
	names[c.Name] = path
	for i, e := range c.Env {
		if e.Name == "" {
			return &fieldError{path + ".env[" + strconv.Itoa(i) + "].name", "required"}
		}
	}
	for i, cp := range c.Ports {
		pp := path + ".ports[" + strconv.Itoa(i) + "]"
		if cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
			return &fieldError{pp + ".containerPort", fmt.Sprintf("invalid value %d: must be between 1 and 65535", cp.ContainerPort)}
		}
		switch cp.Protocol {
		case "", "TCP", "UDP", "SCTP":
		default:
			return &fieldError{pp + ".protocol", fmt.Sprintf("unsupported value %q: must be TCP, UDP or SCTP", cp.Protocol)}
		}
	}
	return nil
}

func invalid(v, msg string) string { return fmt.Sprintf("invalid value %q: %s", v, msg) }

const (
	labelMsg     = "must be a DNS-1123 label: at most 63 lower case letters, digits or '-', starting and ending with a letter or digit"
	subdomainMsg = "must be a DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels (lower case letters, digits or '-', starting and ending with a letter or digit)"
)

// checkLabel returns why s is not a DNS-1123 label, or "".
func checkLabel(s string) string {
	if len(s) > 63 || !isLabel(s) {
		return labelMsg
	}
	return ""
}

// checkSubdomain returns why s is not a DNS-1123 subdomain, or "".
func checkSubdomain(s string) string {
	if len(s) > 253 {
		return subdomainMsg
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if !isLabel(s[start:i]) {
				return subdomainMsg
			}
			start = i + 1
		}
	}
	return ""
}

// isLabel reports whether s is [a-z0-9]([-a-z0-9]*[a-z0-9])? (any length).
func isLabel(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}
