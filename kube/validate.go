package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
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

// MaxContainers bounds a pod's containers, init containers included.
const MaxContainers = 32

// MaxAnnotationsSize bounds an object's annotations, keys and values
// together, as the API server does.
const MaxAnnotationsSize = 256 << 10

// checkAnnotations refuses annotations larger than MaxAnnotationsSize, in
// the API server's words; path is where they are.
func checkAnnotations(path string, a map[string]string) *fieldError {
	n := 0
	for k, v := range a {
		n += len(k) + len(v)
	}
	if n > MaxAnnotationsSize {
		return &fieldError{path, fmt.Sprintf("Too long: must have at most %d bytes", MaxAnnotationsSize)}
	}
	return nil
}

func validatePod(p *Pod) *fieldError {
	if p.Name == "" {
		return &fieldError{"metadata.name", "required"}
	}
	if fe := checkAnnotations("metadata.annotations", p.Annotations); fe != nil {
		return fe
	}
	if fe := checkLabels("metadata.labels", p.Labels); fe != nil {
		return fe
	}
	if msg := checkSubdomain(p.Name); msg != "" {
		return &fieldError{"metadata.name", invalid(p.Name, msg)}
	}
	if p.Namespace != "" {
		if msg := checkLabel(p.Namespace); msg != "" {
			return &fieldError{"metadata.namespace", invalid(p.Namespace, msg)}
		}
	}
	return validatePodSpec(&p.Spec, "spec.")
}

// validatePodSpec checks a pod's spec; prefix is its path ("spec." or
// "spec.template.spec.").
func validatePodSpec(s *PodSpec, prefix string) *fieldError {
	switch s.RestartPolicy {
	case "", "Always", "OnFailure", "Never":
	default:
		return &fieldError{prefix + "restartPolicy", fmt.Sprintf("unsupported value %q: must be Always, OnFailure or Never", s.RestartPolicy)}
	}
	if len(s.Containers) == 0 {
		return &fieldError{prefix + "containers", "at least one container is required"}
	}
	if len(s.EphemeralContainers) > 0 {
		// They come through the ephemeralcontainers subresource only
		// (ValidateEphemeralContainers), as the API server says.
		return &fieldError{prefix + "ephemeralContainers", "Forbidden: cannot be set on create"}
	}
	// Each container is a process here: a pod of thousands would spend
	// the machine's process IDs.
	if n := len(s.InitContainers) + len(s.Containers); n > MaxContainers {
		return &fieldError{prefix + "containers", fmt.Sprintf("Too many: %d: must have at most %d items, init containers included", n, MaxContainers)}
	}
	names := make(map[string]string)
	for i := range s.InitContainers {
		if fe := validateContainer(&s.InitContainers[i], prefix+"initContainers["+strconv.Itoa(i)+"]", names); fe != nil {
			return fe
		}
	}
	for i := range s.Containers {
		if fe := validateContainer(&s.Containers[i], prefix+"containers["+strconv.Itoa(i)+"]", names); fe != nil {
			return fe
		}
	}
	return nil
}

// ValidateEphemeralContainers checks a running pod's spec with its
// ephemeral containers as the API server does on a write of its
// ephemeralcontainers subresource: each a valid container with a name
// unique in the pod, no ports or probe, a target that is one of the pod's
// other containers; old's ephemeral containers all kept, unchanged.
// Ephemeral containers count among the pod's MaxContainers processes.
func ValidateEphemeralContainers(s, old *PodSpec) error {
	if fe := validateEphemeralContainers(s, old); fe != nil {
		return errors.New(fe.field + ": " + fe.msg)
	}
	return nil
}

func validateEphemeralContainers(s, old *PodSpec) *fieldError {
	const path = "spec.ephemeralContainers"
	for _, o := range old.EphemeralContainers {
		i := slices.IndexFunc(s.EphemeralContainers, func(e EphemeralContainer) bool { return e.Name == o.Name })
		switch {
		case i < 0:
			return &fieldError{path, fmt.Sprintf("Forbidden: existing ephemeral containers %q may not be removed", o.Name)}
		case !SameJSON(s.EphemeralContainers[i], o):
			return &fieldError{path, fmt.Sprintf("Forbidden: existing ephemeral containers %q may not be changed", o.Name)}
		}
	}
	if n := len(s.InitContainers) + len(s.Containers) + len(s.EphemeralContainers); n > MaxContainers {
		return &fieldError{path, fmt.Sprintf("Too many: %d: a pod has at most %d containers, init and ephemeral ones included", n, MaxContainers)}
	}
	names := make(map[string]string)
	for i := range s.InitContainers {
		names[s.InitContainers[i].Name] = "spec.initContainers[" + strconv.Itoa(i) + "]"
	}
	for i := range s.Containers {
		names[s.Containers[i].Name] = "spec.containers[" + strconv.Itoa(i) + "]"
	}
	for i := range s.EphemeralContainers {
		e := &s.EphemeralContainers[i]
		p := path + "[" + strconv.Itoa(i) + "]"
		if e.TargetContainerName != "" {
			if t, ok := names[e.TargetContainerName]; !ok || strings.HasPrefix(t, path) {
				return &fieldError{p + ".targetContainerName", fmt.Sprintf("Not found: %q", e.TargetContainerName)}
			}
		}
		switch {
		case len(e.Ports) > 0:
			return &fieldError{p + ".ports", "Forbidden: cannot be set for an Ephemeral Container"}
		case e.ReadinessProbe != nil:
			return &fieldError{p + ".readinessProbe", "Forbidden: cannot be set for an Ephemeral Container"}
		case e.StdinOnce && !e.Stdin:
			return &fieldError{p + ".stdinOnce", "Forbidden: requires stdin"}
		}
		if fe := validateContainer(&e.Container, p, names); fe != nil {
			return fe
		}
	}
	return nil
}

// SameJSON reports whether a and b encode alike: the same to a client.
func SameJSON(a, b any) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
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
		if fe := validateEnvVar(&e, path+".env["+strconv.Itoa(i)+"]"); fe != nil {
			return fe
		}
	}
	for i, e := range c.EnvFrom {
		if fe := validateEnvFrom(&e, path+".envFrom["+strconv.Itoa(i)+"]"); fe != nil {
			return fe
		}
	}
	for i, cp := range c.Ports {
		pp := path + ".ports[" + strconv.Itoa(i) + "]"
		if cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
			return &fieldError{pp + ".containerPort", fmt.Sprintf("Invalid value: %d: must be between 1 and 65535, inclusive", cp.ContainerPort)}
		}
		switch cp.Protocol {
		case "", "TCP", "UDP", "SCTP":
		default:
			return &fieldError{pp + ".protocol", fmt.Sprintf("unsupported value %q: must be TCP, UDP or SCTP", cp.Protocol)}
		}
		if cp.Name != "" {
			if msg := checkPortName(cp.Name); msg != "" {
				return &fieldError{pp + ".name", invalid(cp.Name, msg)}
			}
		}
	}
	if fe := validateResources(c, path); fe != nil {
		return fe
	}
	if c.ReadinessProbe != nil {
		return validateProbe(c.ReadinessProbe, path+".readinessProbe")
	}
	return nil
}

// validateProbe checks that a probe has exactly one handler and sane
// timing.
func validateProbe(p *Probe, path string) *fieldError {
	n := 0
	for _, set := range []bool{p.Exec != nil, p.HTTPGet != nil, p.TCPSocket != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return &fieldError{path, "must specify exactly one of exec, httpGet or tcpSocket"}
	}
	for name, v := range map[string]int32{"initialDelaySeconds": p.InitialDelaySeconds, "timeoutSeconds": p.TimeoutSeconds,
		"periodSeconds": p.PeriodSeconds, "successThreshold": p.SuccessThreshold, "failureThreshold": p.FailureThreshold} {
		if v < 0 || v > 86400 {
			return &fieldError{path + "." + name, fmt.Sprintf("invalid value %d: must be between 0 and 86400", v)}
		}
	}
	switch {
	case p.Exec != nil && len(p.Exec.Command) == 0:
		return &fieldError{path + ".exec.command", "required"}
	case p.HTTPGet != nil:
		switch p.HTTPGet.Scheme {
		case "", "HTTP", "HTTPS":
		default:
			return &fieldError{path + ".httpGet.scheme", fmt.Sprintf("unsupported value %q: must be HTTP or HTTPS", p.HTTPGet.Scheme)}
		}
		return validatePort(p.HTTPGet.Port, path+".httpGet.port")
	case p.TCPSocket != nil:
		return validatePort(p.TCPSocket.Port, path+".tcpSocket.port")
	}
	return nil
}

// validatePort checks a port given by number or by name.
func validatePort(v IntOrString, path string) *fieldError {
	if v.IsString {
		if msg := checkPortName(v.Str); msg != "" {
			return &fieldError{path, invalid(v.Str, msg)}
		}
		return nil
	}
	if v.Int < 1 || v.Int > 65535 {
		return &fieldError{path, fmt.Sprintf("Invalid value: %d: must be between 1 and 65535, inclusive", v.Int)}
	}
	return nil
}

// MaxReplicas bounds a workload's replicas: each is a set of local
// processes.
const MaxReplicas = 64

// validateService checks a Service: a DNS-1035 name, ports with unique
// names (required when there are several) and valid numbers, a ClusterIP
// type, and a clusterIP that is unset, None or an IP address.
func validateService(s *Service) *fieldError {
	if fe := validateMeta(&s.ObjectMeta, true); fe != nil {
		return fe
	}
	switch s.Spec.Type {
	case "", "ClusterIP":
	default:
		return &fieldError{"spec.type", fmt.Sprintf("unsupported value %q: porthole serves ClusterIP Services only", s.Spec.Type)}
	}
	if ip := s.Spec.ClusterIP; ip != "" && ip != "None" && net.ParseIP(ip) == nil {
		return &fieldError{"spec.clusterIP", invalid(ip, "must be empty, 'None', or a valid IP address")}
	}
	if len(s.Spec.Ports) == 0 && s.Spec.ClusterIP != "None" {
		return &fieldError{"spec.ports", "Required value"}
	}
	// As the API server of a single-stack IPv4 cluster says.
	switch pol := s.Spec.IPFamilyPolicy; pol {
	case "", "SingleStack", "PreferDualStack":
	case "RequireDualStack":
		return &fieldError{"spec.ipFamilyPolicy", fmt.Sprintf("Invalid value: %q: this cluster is not configured for dual-stack services", pol)}
	default:
		return &fieldError{"spec.ipFamilyPolicy", fmt.Sprintf("Unsupported value: %q: supported values: \"PreferDualStack\", \"RequireDualStack\", \"SingleStack\"", pol)}
	}
	for i, f := range s.Spec.IPFamilies {
		switch f {
		case "IPv4":
		case "IPv6":
			return &fieldError{fmt.Sprintf("spec.ipFamilies[%d]", i), fmt.Sprintf("Invalid value: %q: not configured on this cluster", f)}
		default:
			return &fieldError{fmt.Sprintf("spec.ipFamilies[%d]", i), fmt.Sprintf("Unsupported value: %q: supported values: \"IPv4\", \"IPv6\"", f)}
		}
	}
	switch p := s.Spec.InternalTrafficPolicy; p {
	case "", "Cluster", "Local":
	default:
		return &fieldError{"spec.internalTrafficPolicy", fmt.Sprintf("Unsupported value: %q: supported values: \"Cluster\", \"Local\"", p)}
	}
	names := make(map[string]bool)
	for i, sp := range s.Spec.Ports {
		pp := "spec.ports[" + strconv.Itoa(i) + "]"
		if sp.Name == "" && len(s.Spec.Ports) > 1 {
			return &fieldError{pp + ".name", "Required value"}
		}
		if sp.Name != "" {
			if msg := checkLabel(sp.Name); msg != "" {
				return &fieldError{pp + ".name", invalid(sp.Name, msg)}
			}
			if names[sp.Name] {
				return &fieldError{pp + ".name", fmt.Sprintf("Duplicate value: %q", sp.Name)}
			}
			names[sp.Name] = true
		}
		if sp.Port < 1 || sp.Port > 65535 {
			return &fieldError{pp + ".port", fmt.Sprintf("Invalid value: %d: must be between 1 and 65535, inclusive", sp.Port)}
		}
		if !sp.TargetPort.IsZero() {
			if fe := validatePort(sp.TargetPort, pp+".targetPort"); fe != nil {
				return fe
			}
		}
		switch sp.Protocol {
		case "", "TCP", "UDP", "SCTP":
		default:
			return &fieldError{pp + ".protocol", fmt.Sprintf("unsupported value %q: must be TCP, UDP or SCTP", sp.Protocol)}
		}
	}
	return nil
}

// validateWorkload checks a Deployment or ReplicaSet: name, replicas, a
// non-empty selector that the template's labels match, and the template's
// pod spec.
func validateWorkload(m *ObjectMeta, replicas *int32, ls *LabelSelector, tmpl *PodTemplateSpec) *fieldError {
	if fe := validateMeta(m, false); fe != nil {
		return fe
	}
	if fe := checkAnnotations("spec.template.metadata.annotations", tmpl.Annotations); fe != nil {
		return fe
	}
	if fe := checkLabels("spec.template.metadata.labels", tmpl.Labels); fe != nil {
		return fe
	}
	if replicas != nil && (*replicas < 0 || *replicas > MaxReplicas) {
		return &fieldError{"spec.replicas", fmt.Sprintf("invalid value %d: must be between 0 and %d", *replicas, MaxReplicas)}
	}
	if ls == nil {
		return &fieldError{"spec.selector", "Required value"}
	}
	sel, err := ls.Selector()
	if err != nil {
		return &fieldError{"spec.selector.matchExpressions", err.Error()}
	}
	if sel.Empty() {
		return &fieldError{"spec.selector", "Invalid value: empty selector is invalid for deployment"}
	}
	for i, e := range ls.MatchExpressions {
		set := e.Operator == "In" || e.Operator == "NotIn"
		if set != (len(e.Values) > 0) {
			return &fieldError{"spec.selector.matchExpressions[" + strconv.Itoa(i) + "].values",
				fmt.Sprintf("operator %s needs %s values", e.Operator, map[bool]string{true: "one or more", false: "no"}[set])}
		}
	}
	if !sel.Matches(Label(tmpl.Labels)) {
		return &fieldError{"spec.template.metadata.labels", fmt.Sprintf("Invalid value: %v: `selector` does not match template `labels`", tmpl.Labels)}
	}
	switch tmpl.Spec.RestartPolicy {
	case "", "Always":
	default:
		return &fieldError{"spec.template.spec.restartPolicy", unsupported(tmpl.Spec.RestartPolicy, []string{"Always"})}
	}
	return validatePodSpec(&tmpl.Spec, "spec.template.spec.")
}

// validateMeta checks an object's name (a DNS-1035 label when label is
// set, as for Services, else a DNS-1123 subdomain) and namespace.
func validateMeta(m *ObjectMeta, label bool) *fieldError {
	if m.Name == "" {
		return &fieldError{"metadata.name", "required"}
	}
	if fe := checkAnnotations("metadata.annotations", m.Annotations); fe != nil {
		return fe
	}
	if fe := checkLabels("metadata.labels", m.Labels); fe != nil {
		return fe
	}
	msg := checkSubdomain(m.Name)
	if label {
		msg = checkLabel(m.Name)
		if msg == "" && (m.Name[0] < 'a' || m.Name[0] > 'z') {
			msg = "must be a DNS-1035 label: start with a lower case letter"
		}
	}
	if msg != "" {
		return &fieldError{"metadata.name", invalid(m.Name, msg)}
	}
	if m.Namespace != "" {
		if msg := checkLabel(m.Namespace); msg != "" {
			return &fieldError{"metadata.namespace", invalid(m.Namespace, msg)}
		}
	}
	return nil
}

// checkPortName returns why s is not an IANA service name (at most 15
// lower case letters, digits or '-', with a letter, no '--' and no '-' at
// either end), or "".
func checkPortName(s string) string {
	const msg = "must be an IANA service name: at most 15 lower case letters, digits or '-', with at least one letter"
	if len(s) > 15 || !isLabel(s) || strings.Contains(s, "--") || !strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz") {
		return msg
	}
	return ""
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

// checkLabels checks labels as the API server does: each key a
// qualified name (an optional DNS subdomain prefix and '/', then a name of
// at most 63 characters), each value empty or a name.
func checkLabels(path string, labels map[string]string) *fieldError {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		name := k
		if prefix, rest, ok := strings.Cut(k, "/"); ok {
			if msg := checkSubdomain(prefix); msg != "" {
				return &fieldError{path, invalid(k, "prefix part "+msg)}
			}
			name = rest
		}
		if !isLabelName(name) {
			return &fieldError{path, invalid(k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)")}
		}
		if v := labels[k]; v != "" && !isLabelName(v) {
			return &fieldError{path, invalid(v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)")}
		}
	}
	return nil
}

// isLabelName says whether s is a label's name or value: 1 to 63
// alphanumerics, '-', '_' and '.', starting and ending alphanumeric.
func isLabelName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' && c != '_' && c != '.' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
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

// Validate checks a Namespace as Decode does: a DNS-1123 label name,
// labels and annotations.
func (ns *Namespace) Validate() error { return asError(validateNamespace(ns)) }

func validateNamespace(ns *Namespace) *fieldError {
	if ns.Name == "" {
		return &fieldError{"metadata.name", "required"}
	}
	if msg := checkLabel(ns.Name); msg != "" {
		return &fieldError{"metadata.name", invalid(ns.Name, msg)}
	}
	if fe := checkAnnotations("metadata.annotations", ns.Annotations); fe != nil {
		return fe
	}
	return checkLabels("metadata.labels", ns.Labels)
}

// Validate checks a Service as Decode does.
func (s *Service) Validate() error { return asError(validateService(s)) }

// Validate checks a Deployment as Decode does.
func (d *Deployment) Validate() error {
	if fe := validateWorkload(&d.ObjectMeta, d.Spec.Replicas, d.Spec.Selector, &d.Spec.Template); fe != nil {
		return asError(fe)
	}
	if st := d.Spec.Strategy; st != nil {
		switch st.Type {
		case "", RollingUpdateDeploymentStrategy:
			if fe := validateRollingUpdate(st.RollingUpdate); fe != nil {
				return asError(fe)
			}
		case RecreateDeploymentStrategy:
			if st.RollingUpdate != nil {
				return asError(&fieldError{"spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'"})
			}
		default:
			return asError(&fieldError{"spec.strategy", unsupportedStrategy(st)})
		}
	}
	if n := d.Spec.MinReadySeconds; n < 0 {
		return asError(&fieldError{"spec.minReadySeconds", fmt.Sprintf("Invalid value: %d: must be greater than or equal to 0", n)})
	}
	if n := d.Spec.RevisionHistoryLimit; n != nil && *n < 0 {
		return asError(&fieldError{"spec.revisionHistoryLimit", fmt.Sprintf("Invalid value: %d: must be greater than or equal to 0", *n)})
	}
	if s := d.Spec.ProgressDeadlineSeconds; s != nil && *s < 0 {
		return asError(&fieldError{"spec.progressDeadlineSeconds", fmt.Sprintf("Invalid value: %d: must be greater than or equal to 0", *s)})
	}
	if s := d.Spec.ProgressDeadlineSeconds; s != nil && *s <= d.Spec.MinReadySeconds {
		return asError(&fieldError{"spec.progressDeadlineSeconds", fmt.Sprintf("Invalid value: %d: must be greater than minReadySeconds", *s)})
	}
	return nil
}

// DefaultRollingBound is the API server's maxSurge and maxUnavailable
// where a rolling update names none.
const DefaultRollingBound = "25%"

// validateRollingUpdate checks a rolling update's bounds as the API server
// does (its defaults, 25%, in place of those not given): each a count
// of zero or more or a whole percentage, not both zero, and at most every
// pod unavailable. Its values read as the API server prints them: JSON.
func validateRollingUpdate(ru *RollingUpdateDeployment) *fieldError {
	unavailable, surge := FromString(DefaultRollingBound), FromString(DefaultRollingBound)
	if ru != nil && ru.MaxUnavailable != nil {
		unavailable = *ru.MaxUnavailable
	}
	if ru != nil && ru.MaxSurge != nil {
		surge = *ru.MaxSurge
	}
	const path = "spec.strategy.rollingUpdate."
	for _, b := range []struct {
		name string
		v    IntOrString
	}{{"maxUnavailable", unavailable}, {"maxSurge", surge}} {
		if b.v.IsString && !isPercent(b.v.Str) {
			return &fieldError{path + b.name, "Invalid value: " + boundJSON(b.v) + ": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"}
		}
		if !b.v.IsString && b.v.Int < 0 {
			return &fieldError{path + b.name, "Invalid value: " + boundJSON(b.v) + ": must be greater than or equal to 0"}
		}
	}
	if boundValue(unavailable) == 0 && boundValue(surge) == 0 {
		return &fieldError{path + "maxUnavailable", "Invalid value: " + boundJSON(unavailable) + ": may not be 0 when `maxSurge` is 0"}
	}
	if unavailable.IsString && boundValue(unavailable) > 100 {
		return &fieldError{path + "maxUnavailable", "Invalid value: " + boundJSON(unavailable) + ": must not be greater than 100%"}
	}
	return nil
}

// isPercent reports whether s is digits and a '%'.
func isPercent(s string) bool {
	digits, ok := strings.CutSuffix(s, "%")
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

// boundValue is a valid bound's number: the count, or the percentage
// without its '%' (digits past an int's range read as the largest).
func boundValue(v IntOrString) int {
	if !v.IsString {
		return int(v.Int)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.Str, "%"))
	if err != nil {
		return math.MaxInt
	}
	return n
}

// ScaledBound is a rolling update's bound for replicas pods: the count as
// given, or the percentage of replicas, rounded up (for maxSurge) or down
// (for maxUnavailable), as the Deployment controller resolves it. A bound
// that does not parse counts as zero (validation refuses those).
func ScaledBound(v *IntOrString, replicas int32, roundUp bool) int32 {
	if v == nil {
		return 0
	}
	if !v.IsString {
		return v.Int
	}
	if !isPercent(v.Str) {
		return 0
	}
	n := int64(min(boundValue(*v), 1e9)) // beyond, the product overflows
	scaled := n * int64(replicas)
	if roundUp {
		scaled += 99
	}
	return int32(min(scaled/100, math.MaxInt32))
}

// boundJSON is v as the API server prints a bad IntOrString: as JSON.
func boundJSON(v IntOrString) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// unsupportedStrategy is the API server's word for a strategy of an
// unknown type: the strategy itself, as JSON with its Go field names.
func unsupportedStrategy(st *DeploymentStrategy) string {
	ru := "null"
	if r := st.RollingUpdate; r != nil {
		var unavailable, surge IntOrString
		if r.MaxUnavailable != nil {
			unavailable = *r.MaxUnavailable
		}
		if r.MaxSurge != nil {
			surge = *r.MaxSurge
		}
		ru = fmt.Sprintf(`{"MaxUnavailable":%s,"MaxSurge":%s}`, boundJSON(unavailable), boundJSON(surge))
	}
	typ, _ := json.Marshal(st.Type)
	return fmt.Sprintf(`Unsupported value: {"Type":%s,"RollingUpdate":%s}: supported values: "Recreate", "RollingUpdate"`, typ, ru)
}

// Validate checks a ReplicaSet as Decode does.
func (rs *ReplicaSet) Validate() error {
	if fe := validateWorkload(&rs.ObjectMeta, rs.Spec.Replicas, rs.Spec.Selector, &rs.Spec.Template); fe != nil {
		return asError(fe)
	}
	if n := rs.Spec.MinReadySeconds; n < 0 {
		return asError(&fieldError{"spec.minReadySeconds", fmt.Sprintf("Invalid value: %d: must be greater than or equal to 0", n)})
	}
	return nil
}

func asError(fe *fieldError) error {
	if fe == nil {
		return nil
	}
	return errors.New(fe.field + ": " + fe.msg)
}

// FieldErrors are every problem a validation found, each "field:
// reason", in the order the API server finds them.
type FieldErrors []string

// Error is the API server's aggregate: the one problem, or all of them
// in brackets.
func (e FieldErrors) Error() string {
	if len(e) == 1 {
		return e[0]
	}
	return "[" + strings.Join(e, ", ") + "]"
}

// asErrors is nil for no problems, else FieldErrors of them.
func asErrors(fes []*fieldError) error {
	if len(fes) == 0 {
		return nil
	}
	out := make(FieldErrors, len(fes))
	for i, fe := range fes {
		out[i] = fe.field + ": " + fe.msg
	}
	return out
}
