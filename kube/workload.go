package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// IntOrString is a port given as a number or as a name (a Service's
// targetPort, a probe's port).
type IntOrString struct {
	IsString bool
	Int      int32
	Str      string
}

// FromInt is a numeric IntOrString.
func FromInt(i int32) IntOrString { return IntOrString{Int: i} }

// FromString is a named IntOrString.
func FromString(s string) IntOrString { return IntOrString{IsString: true, Str: s} }

// MarshalJSON writes a JSON number or string.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.IsString {
		return json.Marshal(v.Str)
	}
	return json.Marshal(v.Int)
}

// UnmarshalJSON reads a JSON number (an int32) or string.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*v = IntOrString{IsString: true}
		return json.Unmarshal(b, &v.Str)
	}
	if bytes.Equal(b, []byte("null")) {
		*v = IntOrString{}
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "number " + string(b), Type: reflect.TypeOf(v).Elem()}
	}
	*v = IntOrString{Int: int32(n)}
	return nil
}

// String is the number or the name.
func (v IntOrString) String() string {
	if v.IsString {
		return v.Str
	}
	return strconv.Itoa(int(v.Int))
}

// IsZero reports an unset value (for omitempty-like decisions).
func (v IntOrString) IsZero() bool { return !v.IsString && v.Int == 0 }

// LabelSelector is a workload's selector: every matchLabels pair and every
// expression must hold.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one expression: In, NotIn, Exists or
// DoesNotExist.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Selector converts ls to a Selector; a nil or empty ls selects nothing
// for a workload, which callers check with Empty before matching.
func (ls *LabelSelector) Selector() (Selector, error) {
	var sel Selector
	if ls == nil {
		return sel, nil
	}
	for _, k := range slices.Sorted(maps.Keys(ls.MatchLabels)) {
		sel.reqs = append(sel.reqs, requirement{key: k, op: opEquals, values: []string{ls.MatchLabels[k]}})
	}
	for _, e := range ls.MatchExpressions {
		r := requirement{key: e.Key, values: slices.Clone(e.Values)}
		switch e.Operator {
		case "In":
			r.op = opIn
		case "NotIn":
			r.op = opNotIn
		case "Exists":
			r.op = opExists
		case "DoesNotExist":
			r.op = opNotExists
		default:
			return Selector{}, fmt.Errorf("%q is not a valid label selector operator", e.Operator)
		}
		sel.reqs = append(sel.reqs, r)
	}
	return sel, nil
}

// String renders ls as kubectl's SELECTOR column does, "<none>" when
// empty.
func (ls *LabelSelector) String() string {
	sel, err := ls.Selector()
	if err != nil {
		return "<error>"
	}
	if sel.Empty() {
		return "<none>"
	}
	return sel.String()
}

// SelectorFromMap is the selector of a Service: every pair must match.
func SelectorFromMap(m map[string]string) Selector {
	var sel Selector
	for _, k := range slices.Sorted(maps.Keys(m)) {
		sel.reqs = append(sel.reqs, requirement{key: k, op: opEquals, values: []string{m[k]}})
	}
	return sel
}

// PodTemplateSpec is the pod a workload makes copies of.
type PodTemplateSpec struct {
	ObjectMeta `json:"metadata"`
	Spec       PodSpec `json:"spec"`
}

// Probe is a container probe: one handler and its timing.
type Probe struct {
	Exec                *ExecAction      `json:"exec,omitempty"`
	HTTPGet             *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket           *TCPSocketAction `json:"tcpSocket,omitempty"`
	InitialDelaySeconds int32            `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds      int32            `json:"timeoutSeconds,omitempty"`
	PeriodSeconds       int32            `json:"periodSeconds,omitempty"`
	SuccessThreshold    int32            `json:"successThreshold,omitempty"`
	FailureThreshold    int32            `json:"failureThreshold,omitempty"`
}

// ExecAction runs a command in the container; exit 0 is success.
type ExecAction struct {
	Command []string `json:"command,omitempty"`
}

// HTTPGetAction is a GET whose status in [200, 400) is success.
type HTTPGetAction struct {
	Path        string       `json:"path,omitempty"`
	Port        IntOrString  `json:"port"`
	Host        string       `json:"host,omitempty"`
	Scheme      string       `json:"scheme,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is one header of an HTTP probe.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction succeeds when a TCP connection opens.
type TCPSocketAction struct {
	Port IntOrString `json:"port"`
	Host string      `json:"host,omitempty"`
}

// Service is a v1 Service; porthole serves ClusterIP and headless ones.
type Service struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       ServiceSpec   `json:"spec"`
	Status     ServiceStatus `json:"status"`
	// Unmodeled is what the spec holds that ServiceSpec does not model
	// (publishNotReadyAddresses, ...), kept as sent: see specRemainder.
	Unmodeled any `json:"-"`
}

// MarshalJSON writes the Service with its unmodeled spec fields.
func (s Service) MarshalJSON() ([]byte, error) {
	type plain Service
	return withSpecRemainder(plain(s), reflect.TypeFor[ServiceSpec](), s.Unmodeled)
}

// UnmarshalJSON reads a Service, keeping its unmodeled spec fields.
func (s *Service) UnmarshalJSON(b []byte) error {
	type plain Service
	var p plain
	rest, err := decodeKeepingSpec(b, &p, reflect.TypeFor[ServiceSpec]())
	if err != nil {
		return err
	}
	*s = Service(p)
	s.Unmodeled = rest
	return nil
}

// ServiceSpec is the subset of a Service's spec that port-forward reads.
type ServiceSpec struct {
	Ports           []ServicePort     `json:"ports,omitempty"`
	Selector        map[string]string `json:"selector,omitempty"`
	ClusterIP       string            `json:"clusterIP,omitempty"`
	ClusterIPs      []string          `json:"clusterIPs,omitempty"`
	Type            string            `json:"type,omitempty"`
	ExternalIPs     []string          `json:"externalIPs,omitempty"`
	SessionAffinity string            `json:"sessionAffinity,omitempty"`
	// IPFamilies and IPFamilyPolicy are what the API server allocates
	// with the cluster IP; serve's cluster is IPv4, single-stack.
	IPFamilies     []string `json:"ipFamilies,omitempty"`
	IPFamilyPolicy string   `json:"ipFamilyPolicy,omitempty"`
	// InternalTrafficPolicy is Cluster unless set: serve's one node makes
	// Local the same.
	InternalTrafficPolicy string `json:"internalTrafficPolicy,omitempty"`
}

// ServicePort is one port of a Service and the pods' port it reaches.
type ServicePort struct {
	Name       string      `json:"name,omitempty"`
	Protocol   string      `json:"protocol,omitempty"`
	Port       int32       `json:"port"`
	TargetPort IntOrString `json:"targetPort"`
	NodePort   int32       `json:"nodePort,omitempty"`
}

// ServiceStatus is empty for the Services porthole serves.
type ServiceStatus struct {
	LoadBalancer LoadBalancerStatus `json:"loadBalancer"`
}

// LoadBalancerStatus lists a load balancer's addresses (none here).
type LoadBalancerStatus struct {
	Ingress []LoadBalancerIngress `json:"ingress,omitempty"`
}

// LoadBalancerIngress is one load balancer address.
type LoadBalancerIngress struct {
	IP       string `json:"ip,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// ServiceList is a v1 ServiceList.
type ServiceList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Service `json:"items"`
}

// Deployment is an apps/v1 Deployment.
type Deployment struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       DeploymentSpec   `json:"spec"`
	Status     DeploymentStatus `json:"status"`
	// Unmodeled is what the spec holds that DeploymentSpec does not model
	// (a template's resource limits, volumes, ...), kept as sent: see
	// specRemainder. The ReplicaSets made from the template do not get it.
	Unmodeled any `json:"-"`
}

// MarshalJSON writes the Deployment with its unmodeled spec fields.
func (d Deployment) MarshalJSON() ([]byte, error) {
	type plain Deployment
	return withSpecRemainder(plain(d), reflect.TypeFor[DeploymentSpec](), d.Unmodeled)
}

// UnmarshalJSON reads a Deployment, keeping its unmodeled spec fields.
func (d *Deployment) UnmarshalJSON(b []byte) error {
	type plain Deployment
	var p plain
	rest, err := decodeKeepingSpec(b, &p, reflect.TypeFor[DeploymentSpec]())
	if err != nil {
		return err
	}
	*d = Deployment(p)
	d.Unmodeled = rest
	return nil
}

// DeploymentSpec is the subset of a Deployment's spec porthole honours.
type DeploymentSpec struct {
	Replicas *int32              `json:"replicas,omitempty"`
	Selector *LabelSelector      `json:"selector"`
	Template PodTemplateSpec     `json:"template"`
	Strategy *DeploymentStrategy `json:"strategy,omitempty"`
	// MinReadySeconds is how long a pod must have been ready to count as
	// available (0: at once).
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// Paused holds rollouts (kubectl rollout pause): a changed template
	// waits, scaling does not.
	Paused bool `json:"paused,omitempty"`
	// ProgressDeadlineSeconds is how long a rollout may go without
	// progress before its Progressing condition turns False with reason
	// ProgressDeadlineExceeded, which fails kubectl rollout status. The
	// API server defaults it to 600; math.MaxInt32 means no deadline.
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// RevisionHistoryLimit is how many old ReplicaSets (scaled to zero)
	// are kept for kubectl rollout undo; the API server defaults it to 10.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
}

// DeploymentStrategy is how a Deployment replaces its pods: Recreate
// (every old pod gone before a new one starts) or RollingUpdate, new pods
// started and old ones removed step by step, within maxSurge pods over the
// desired count and maxUnavailable under it (25% each unless given).
type DeploymentStrategy struct {
	Type          string                   `json:"type,omitempty"`
	RollingUpdate *RollingUpdateDeployment `json:"rollingUpdate,omitempty"`
}

// The strategies' types.
const (
	RecreateDeploymentStrategy      = "Recreate"
	RollingUpdateDeploymentStrategy = "RollingUpdate"
)

// RollingUpdateDeployment bounds a rolling update.
type RollingUpdateDeployment struct {
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *IntOrString `json:"maxSurge,omitempty"`
}

// DeploymentStatus counts the Deployment's pods.
type DeploymentStatus struct {
	ObservedGeneration  int64 `json:"observedGeneration,omitempty"`
	Replicas            int32 `json:"replicas,omitempty"`
	UpdatedReplicas     int32 `json:"updatedReplicas,omitempty"`
	ReadyReplicas       int32 `json:"readyReplicas,omitempty"`
	AvailableReplicas   int32 `json:"availableReplicas,omitempty"`
	UnavailableReplicas int32 `json:"unavailableReplicas,omitempty"`
	// Conditions are Available and Progressing, which kubectl wait
	// --for=condition=Available and scripts read.
	Conditions []DeploymentCondition `json:"conditions,omitempty"`
}

// DeploymentCondition is one condition of a Deployment.
type DeploymentCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	LastUpdateTime     string `json:"lastUpdateTime,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
}

// DeploymentList is an apps/v1 DeploymentList.
type DeploymentList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Deployment `json:"items"`
}

// ReplicaSet is an apps/v1 ReplicaSet.
type ReplicaSet struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       ReplicaSetSpec   `json:"spec"`
	Status     ReplicaSetStatus `json:"status"`
}

// ReplicaSetSpec is the subset of a ReplicaSet's spec porthole honours.
type ReplicaSetSpec struct {
	Replicas *int32 `json:"replicas,omitempty"`
	// MinReadySeconds is how long a pod must have been ready to count as
	// available; a Deployment's ReplicaSets take its own.
	MinReadySeconds int32           `json:"minReadySeconds,omitempty"`
	Selector        *LabelSelector  `json:"selector"`
	Template        PodTemplateSpec `json:"template"`
}

// ReplicaSetStatus counts the ReplicaSet's pods.
type ReplicaSetStatus struct {
	Replicas             int32 `json:"replicas"`
	FullyLabeledReplicas int32 `json:"fullyLabeledReplicas,omitempty"`
	ReadyReplicas        int32 `json:"readyReplicas,omitempty"`
	AvailableReplicas    int32 `json:"availableReplicas,omitempty"`
	ObservedGeneration   int64 `json:"observedGeneration,omitempty"`
}

// ReplicaSetList is an apps/v1 ReplicaSetList.
type ReplicaSetList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []ReplicaSet `json:"items"`
}

// Replicas is *p, or 1 when unset (the API server's default).
func Replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// IsReady reports whether the pod's Ready condition is True.
func (p *Pod) IsReady() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// Images is the comma-separated images of a pod spec's containers, and
// Names their names (the CONTAINERS and IMAGES columns).
func (s *PodSpec) Images() string {
	out := make([]string, len(s.Containers))
	for i, c := range s.Containers {
		out[i] = c.Image
	}
	return strings.Join(out, ",")
}

// Names is the comma-separated names of the spec's containers.
func (s *PodSpec) Names() string {
	out := make([]string, len(s.Containers))
	for i, c := range s.Containers {
		out[i] = c.Name
	}
	return strings.Join(out, ",")
}

// Scale is an autoscaling/v1 Scale: a workload's replicas as its scale
// subresource serves them, for kubectl scale.
type Scale struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       ScaleSpec   `json:"spec"`
	Status     ScaleStatus `json:"status"`
}

// ScaleSpec is the desired replicas.
type ScaleSpec struct {
	Replicas int32 `json:"replicas,omitempty"`
}

// ScaleStatus is the observed replicas and the label selector of their
// pods, as a string.
type ScaleStatus struct {
	Replicas int32  `json:"replicas"`
	Selector string `json:"selector,omitempty"`
}
