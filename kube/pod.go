// Package kube holds the few Kubernetes object shapes porthole speaks without
// importing k8s.io modules: Pod (as the API server serialises it), the
// objects kubectl reads, manifests and selectors, and the self reviews of
// kubectl auth (review.go). JSON tags follow the
// Kubernetes API so the same structs serve manifests and API responses.
// Kubeconfig files are in kube/kubeconfig, the API server's tables in
// kube/table.
package kube

// TypeMeta is kind and apiVersion.
type TypeMeta struct {
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// DefaultTypeMeta fills the kind and apiVersion a write's body left out
// from the ones its URL names, as the API server's decoder does: clients
// (the official Python client's models among them) often send neither.
func (t *TypeMeta) DefaultTypeMeta(kind, apiVersion string) {
	if t.Kind == "" {
		t.Kind = kind
	}
	if t.APIVersion == "" {
		t.APIVersion = apiVersion
	}
}

// ObjectMeta is the subset of metadata porthole keeps.
type ObjectMeta struct {
	Name                       string            `json:"name,omitempty"`
	GenerateName               string            `json:"generateName,omitempty"`
	Namespace                  string            `json:"namespace,omitempty"`
	UID                        string            `json:"uid,omitempty"`
	ResourceVersion            string            `json:"resourceVersion,omitempty"`
	Generation                 int64             `json:"generation,omitempty"`
	CreationTimestamp          string            `json:"creationTimestamp,omitempty"`
	DeletionTimestamp          string            `json:"deletionTimestamp,omitempty"`
	DeletionGracePeriodSeconds *int64            `json:"deletionGracePeriodSeconds,omitempty"`
	Labels                     map[string]string `json:"labels,omitempty"`
	Annotations                map[string]string `json:"annotations,omitempty"`
	OwnerReferences            []OwnerReference  `json:"ownerReferences,omitempty"`
	// Finalizers hold a deleted object until emptied; porthole sets only
	// foregroundDeletion, for a delete in the foreground.
	Finalizers []string `json:"finalizers,omitempty"`
	// ManagedFields say which writer set which fields, as server-side
	// apply needs to merge, remove and refuse conflicting changes.
	ManagedFields []ManagedFieldsEntry `json:"managedFields,omitempty"`
}

// ManagedFieldsEntry is the fields one manager set by one kind of write
// (Apply or Update), in the API server's FieldsV1 form.
type ManagedFieldsEntry struct {
	Manager     string         `json:"manager,omitempty"`
	Operation   string         `json:"operation,omitempty"`
	APIVersion  string         `json:"apiVersion,omitempty"`
	Time        string         `json:"time,omitempty"`
	FieldsType  string         `json:"fieldsType,omitempty"`
	FieldsV1    map[string]any `json:"fieldsV1,omitempty"`
	Subresource string         `json:"subresource,omitempty"`
}

// Meta returns the object's metadata; every object type embeds ObjectMeta,
// so this is how code handles objects of any kind.
func (m *ObjectMeta) Meta() *ObjectMeta { return m }

// OwnerReference names the object that owns this one (a ReplicaSet owns
// its pods, a Deployment its ReplicaSets).
type OwnerReference struct {
	APIVersion         string `json:"apiVersion"`
	Kind               string `json:"kind"`
	Name               string `json:"name"`
	UID                string `json:"uid"`
	Controller         *bool  `json:"controller,omitempty"`
	BlockOwnerDeletion *bool  `json:"blockOwnerDeletion,omitempty"`
}

// ControllerOf returns the owner reference marked controller, if any.
func (m *ObjectMeta) ControllerOf() *OwnerReference {
	for i := range m.OwnerReferences {
		if c := m.OwnerReferences[i].Controller; c != nil && *c {
			return &m.OwnerReferences[i]
		}
	}
	return nil
}

// Pod is a v1 Pod.
type Pod struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       PodSpec   `json:"spec"`
	Status     PodStatus `json:"status"`
}

// PodSpec is the subset of the pod spec the local runtime honours.
type PodSpec struct {
	Containers     []Container `json:"containers"`
	InitContainers []Container `json:"initContainers,omitempty"`
	// EphemeralContainers are debugging containers added to a running pod
	// through its ephemeralcontainers subresource (kubectl debug): never
	// at create, never removed or changed, never restarted.
	EphemeralContainers []EphemeralContainer `json:"ephemeralContainers,omitempty"`
	RestartPolicy       string               `json:"restartPolicy,omitempty"` // Always (default), OnFailure, Never
	// TerminationGracePeriodSeconds is how long a deleted pod's processes
	// have between SIGTERM and SIGKILL when the deletion names no period.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	DNSPolicy                     string `json:"dnsPolicy,omitempty"`
	NodeName                      string `json:"nodeName,omitempty"`
	// SecurityContext is always set, as the API server defaults it, since
	// clients dereference it (kubectl debug does); porthole honours none of
	// its fields and keeps none.
	SecurityContext *PodSecurityContext `json:"securityContext,omitempty"`
	SchedulerName   string              `json:"schedulerName,omitempty"`
}

// PodSecurityContext stands for the pod's security context, which the local
// runtime does not apply.
type PodSecurityContext struct{}

// Container is one container of a pod spec.
type Container struct {
	Name       string   `json:"name"`
	Image      string   `json:"image,omitempty"`
	Command    []string `json:"command,omitempty"`
	Args       []string `json:"args,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	Env        []EnvVar `json:"env,omitempty"`
	// EnvFrom are whole ConfigMaps (or Secrets) in the environment,
	// before Env, which wins.
	EnvFrom []EnvFromSource `json:"envFrom,omitempty"`
	Ports   []ContainerPort `json:"ports,omitempty"`
	// ReadinessProbe decides the container's ready state; without one a
	// running container is ready.
	ReadinessProbe           *Probe `json:"readinessProbe,omitempty"`
	TerminationMessagePath   string `json:"terminationMessagePath,omitempty"`
	TerminationMessagePolicy string `json:"terminationMessagePolicy,omitempty"`
	ImagePullPolicy          string `json:"imagePullPolicy,omitempty"`
	// Resources are the container's requests and limits, kept as sent:
	// the local runtime does not enforce them. Defaulted to {}, as the
	// API server writes them.
	Resources *Resources `json:"resources,omitempty"`
	Stdin     bool       `json:"stdin,omitempty"`
	StdinOnce bool       `json:"stdinOnce,omitempty"`
	TTY       bool       `json:"tty,omitempty"`
}

// Resources are a container's resource requests and limits.
type Resources map[string]any

// EphemeralContainer is a container added to a running pod: a Container
// (without ports or probes) that may name the container whose processes
// it means to see. The local runtime shares no namespaces, so the target
// is recorded, not honoured; so is the security context, which kubectl
// debug's profiles set and the local runtime does not apply.
type EphemeralContainer struct {
	Container           `json:",inline"`
	TargetContainerName string `json:"targetContainerName,omitempty"`
	SecurityContext     any    `json:"securityContext,omitempty"`
}

// EnvVar is an environment variable: a literal value, which may refer to
// the variables before it as $(NAME), or a value read when the container
// starts.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is where a variable's value comes from: exactly one member
// is set.
type EnvVarSource struct {
	FieldRef         *ObjectFieldSelector   `json:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`
	ConfigMapKeyRef  *KeySelector           `json:"configMapKeyRef,omitempty"`
	SecretKeyRef     *KeySelector           `json:"secretKeyRef,omitempty"`
}

// ObjectFieldSelector names a field of the pod (the downward API):
// metadata.name, metadata.labels['app'], status.podIP, ...
type ObjectFieldSelector struct {
	APIVersion string `json:"apiVersion,omitempty"`
	FieldPath  string `json:"fieldPath"`
}

// ResourceFieldSelector names a container's resource limit or request.
type ResourceFieldSelector struct {
	ContainerName string `json:"containerName,omitempty"`
	Resource      string `json:"resource"`
	Divisor       any    `json:"divisor,omitempty"` // a quantity, as written
}

// KeySelector names one key of a ConfigMap (configMapKeyRef) or Secret
// (secretKeyRef) in the pod's namespace.
type KeySelector struct {
	Name     string `json:"name,omitempty"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional,omitempty"`
}

// EnvFromSource puts every key of a ConfigMap (or Secret) in the
// environment, each name after Prefix.
type EnvFromSource struct {
	Prefix       string     `json:"prefix,omitempty"`
	ConfigMapRef *EnvSource `json:"configMapRef,omitempty"`
	SecretRef    *EnvSource `json:"secretRef,omitempty"`
}

// EnvSource names a ConfigMap or Secret in the pod's namespace.
type EnvSource struct {
	Name     string `json:"name,omitempty"`
	Optional *bool  `json:"optional,omitempty"`
}

// ContainerPort is a declared port.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
}

// PodStatus is the subset of status kubectl reads.
type PodStatus struct {
	Phase             string            `json:"phase,omitempty"` // Pending, Running, Succeeded, Failed
	PodIP             string            `json:"podIP,omitempty"`
	PodIPs            []PodIP           `json:"podIPs,omitempty"`
	HostIP            string            `json:"hostIP,omitempty"`
	HostIPs           []PodIP           `json:"hostIPs,omitempty"`
	QOSClass          string            `json:"qosClass,omitempty"`
	StartTime         string            `json:"startTime,omitempty"`
	ContainerStatuses []ContainerStatus `json:"containerStatuses,omitempty"`
	// EphemeralContainerStatuses are the ephemeral containers' states.
	EphemeralContainerStatuses []ContainerStatus `json:"ephemeralContainerStatuses,omitempty"`
	Conditions                 []PodCondition    `json:"conditions,omitempty"`
}

// PodIP is one address of a pod (podIPs) or of its node (hostIPs).
type PodIP struct {
	IP string `json:"ip"`
}

// PodCondition is one condition (Ready, ...), as the kubelet reports it:
// since when it holds, and why not when it does not.
type PodCondition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	// LastProbeTime is null in every condition a kubelet writes.
	LastProbeTime      *string `json:"lastProbeTime"`
	LastTransitionTime string  `json:"lastTransitionTime,omitempty"`
	Reason             string  `json:"reason,omitempty"`
	Message            string  `json:"message,omitempty"`
}

// ContainerStatus is one container's state.
type ContainerStatus struct {
	Name         string         `json:"name"`
	Ready        bool           `json:"ready"`
	RestartCount int32          `json:"restartCount"`
	Image        string         `json:"image"`
	ImageID      string         `json:"imageID"`
	ContainerID  string         `json:"containerID,omitempty"`
	Started      *bool          `json:"started,omitempty"`
	State        ContainerState `json:"state"`
	// LastTerminationState is the end of the previous run, if the container restarted.
	LastTerminationState ContainerState `json:"lastState"`
}

// ContainerState: exactly one member is set.
type ContainerState struct {
	Waiting    *StateWaiting    `json:"waiting,omitempty"`
	Running    *StateRunning    `json:"running,omitempty"`
	Terminated *StateTerminated `json:"terminated,omitempty"`
}

// StateWaiting is a container not yet running.
type StateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// StateRunning is a running container.
type StateRunning struct {
	StartedAt string `json:"startedAt,omitempty"`
}

// StateTerminated is a container whose process ended.
type StateTerminated struct {
	ExitCode   int32  `json:"exitCode"`
	Signal     int32  `json:"signal,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Message    string `json:"message,omitempty"`
	StartedAt  string `json:"startedAt,omitempty"`
	FinishedAt string `json:"finishedAt,omitempty"`
}

// FindContainer returns the named container of the pod (regular, then
// init, then ephemeral).
func (p *Pod) FindContainer(name string) (*Container, bool) {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i], true
		}
	}
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == name {
			return &p.Spec.InitContainers[i], true
		}
	}
	for i := range p.Spec.EphemeralContainers {
		if p.Spec.EphemeralContainers[i].Name == name {
			return &p.Spec.EphemeralContainers[i].Container, true
		}
	}
	return nil, false
}
