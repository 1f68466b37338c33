package kubeproto

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/porthole/porthole/kube"
)

// protobufType is the media type client-go sends when configured for
// protobuf.
const protobufType = runtime.ContentTypeProtobuf

// The times of the objects: created has nanoseconds, which neither the
// JSON nor the protobuf encoding of metav1.Time keeps.
var (
	created = metav1.NewTime(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))
	deleted = metav1.NewTime(time.Date(2024, 5, 7, 1, 2, 3, 0, time.UTC))
)

// deleteOptions is a DeleteOptions as porthole serve reads it (the json
// tags of serve's own deleteOptions), with its kind and apiVersion.
type deleteOptions struct {
	kube.TypeMeta      `json:",inline"`
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
	Preconditions      *struct {
		UID             *string `json:"uid"`
		ResourceVersion *string `json:"resourceVersion"`
	} `json:"preconditions"`
	PropagationPolicy *string  `json:"propagationPolicy"`
	OrphanDependents  *bool    `json:"orphanDependents"`
	DryRun            []string `json:"dryRun"`
}

// testObject is one real Kubernetes object and how porthole reads it.
type testObject struct {
	name string // of the test case and of the fuzz seed file
	// gvk is the object's kind in the group version of the client that
	// sends it: a Deployment's DeleteOptions go as apps/v1, a pod's as v1.
	gvk   schema.GroupVersionKind
	build func() runtime.Object // a fresh object, TypeMeta unset as callers leave it
	// porthole is a new value of the porthole type the object is read
	// into.
	porthole func() any
	// dropped are JSON keys of fields set on the object that porthole does
	// not model: present in the Kubernetes JSON, absent from ToJSON's.
	dropped []string
	// check asserts key fields of the porthole value read from ToJSON, so
	// that two equally empty values cannot pass.
	check func(t *testing.T, v any)
}

// testObjects are the objects porthole reads in protobuf, setting every
// field porthole models and some it does not.
func testObjects() []testObject {
	return []testObject{
		{
			name: "pod", gvk: corev1.SchemeGroupVersion.WithKind("Pod"),
			build: func() runtime.Object { return newPod() }, porthole: func() any { return new(kube.Pod) },
			dropped: []string{`"volumes"`, `"nodeSelector"`, `"tolerations"`, `"livenessProbe"`,
				`"hostPort"`, `"volumeMounts"`, `"runAsUser"`},
			check: func(t *testing.T, v any) {
				p := v.(*kube.Pod)
				app, side := p.Spec.Containers[0], p.Spec.Containers[1]
				checkEqual(t, "containers[0].command", app.Command, []string{"/bin/server", "--listen=:8080"})
				checkEqual(t, "containers[0].args", app.Args, []string{"--verbose", "", "spaced arg"})
				checkEqual(t, "containers[0].readinessProbe.httpGet.port", app.ReadinessProbe.HTTPGet.Port, kube.FromString("http"))
				checkEqual(t, "containers[0].readinessProbe.initialDelaySeconds", app.ReadinessProbe.InitialDelaySeconds, int32(-1))
				checkEqual(t, "containers[0].readinessProbe.httpGet.httpHeaders", app.ReadinessProbe.HTTPGet.HTTPHeaders,
					[]kube.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Accept", Value: "*/*"}})
				checkEqual(t, "containers[0] stdin, stdinOnce, tty", []bool{app.Stdin, app.StdinOnce, app.TTY}, []bool{true, true, true})
				checkEqual(t, "containers[0].resources", app.Resources, &kube.Resources{"limits": map[string]any{"cpu": "500m", "memory": "128Mi"}})
				checkEqual(t, "containers[0].env", app.Env, []kube.EnvVar{{Name: "A", Value: "1"}, {Name: "EMPTY"},
					{Name: "NODE", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}},
					{Name: "CPU", ValueFrom: &kube.EnvVarSource{ResourceFieldRef: &kube.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu", Divisor: "1m"}}},
					{Name: "GREETING", ValueFrom: &kube.EnvVarSource{ConfigMapKeyRef: &kube.KeySelector{Name: "app", Key: "greeting", Optional: ptr.To(false)}}},
					{Name: "TOKEN", ValueFrom: &kube.EnvVarSource{SecretKeyRef: &kube.KeySelector{Name: "creds", Key: "token", Optional: ptr.To(true)}}}})
				checkEqual(t, "containers[0].envFrom", app.EnvFrom, []kube.EnvFromSource{{ConfigMapRef: &kube.EnvSource{Name: "app"}},
					{Prefix: "DB_", SecretRef: &kube.EnvSource{Name: "db", Optional: ptr.To(true)}}})
				checkEqual(t, "containers[1].readinessProbe.exec.command", side.ReadinessProbe.Exec.Command, []string{"cat", "/tmp/ready"})
				checkEqual(t, "initContainers[0].readinessProbe.tcpSocket", *p.Spec.InitContainers[0].ReadinessProbe.TCPSocket,
					kube.TCPSocketAction{Port: kube.FromString("db"), Host: "10.0.0.9"})
				checkEqual(t, "metadata.creationTimestamp", p.CreationTimestamp, "2024-05-06T07:08:09Z")
				checkEqual(t, "metadata.deletionGracePeriodSeconds", p.DeletionGracePeriodSeconds, ptr.To(int64(-3)))
				checkEqual(t, "metadata.ownerReferences[0].controller", p.OwnerReferences[0].Controller, ptr.To(true))
				checkEqual(t, "metadata.finalizers", p.Finalizers, []string{"example.com/hold", "foregroundDeletion"})
				checkEqual(t, "spec.terminationGracePeriodSeconds", p.Spec.TerminationGracePeriodSeconds, ptr.To(int64(45)))
				checkEqual(t, "spec.securityContext", p.Spec.SecurityContext, &kube.PodSecurityContext{})
			},
		},
		{
			name: "deployment", gvk: appsv1.SchemeGroupVersion.WithKind("Deployment"),
			build: func() runtime.Object { return newDeployment() }, porthole: func() any { return new(kube.Deployment) },
			// minReadySeconds is not in the list: porthole's Deployment does
			// not keep it, but ToJSON may pass it on.
			dropped: []string{`"nodeSelector"`, `"tolerations"`, `"volumes"`},
			check: func(t *testing.T, v any) {
				d := v.(*kube.Deployment)
				checkEqual(t, "spec.strategy.rollingUpdate.maxSurge", d.Spec.Strategy.RollingUpdate.MaxSurge, ptr.To(kube.FromString("25%")))
				checkEqual(t, "spec.strategy.rollingUpdate.maxUnavailable", d.Spec.Strategy.RollingUpdate.MaxUnavailable, ptr.To(kube.FromInt(1)))
				checkEqual(t, "spec.replicas", d.Spec.Replicas, ptr.To(int32(3)))
				checkEqual(t, "spec.selector.matchExpressions", d.Spec.Selector.MatchExpressions, []kube.LabelSelectorRequirement{
					{Key: "tier", Operator: "In", Values: []string{"front", "edge"}}, {Key: "canary", Operator: "DoesNotExist"}})
				c := d.Spec.Template.Spec.Containers[0]
				checkEqual(t, "template container command", c.Command, []string{"nginx", "-g", "daemon off;"})
				checkEqual(t, "template readinessProbe.httpGet.port", c.ReadinessProbe.HTTPGet.Port, kube.FromInt(8080))
				checkEqual(t, "template readinessProbe.initialDelaySeconds", c.ReadinessProbe.InitialDelaySeconds, int32(-1))
				checkEqual(t, "spec.paused", d.Spec.Paused, true)
				checkEqual(t, "spec.progressDeadlineSeconds", d.Spec.ProgressDeadlineSeconds, ptr.To(int32(120)))
				checkEqual(t, "spec.revisionHistoryLimit", d.Spec.RevisionHistoryLimit, ptr.To(int32(4)))
				checkEqual(t, "template labels", d.Spec.Template.Labels, map[string]string{"app": "web", "tier": "front"})
				checkEqual(t, "template creationTimestamp", d.Spec.Template.CreationTimestamp, "")
			},
		},
		{
			name: "service", gvk: corev1.SchemeGroupVersion.WithKind("Service"),
			build: func() runtime.Object { return newService() }, porthole: func() any { return new(kube.Service) },
			dropped: []string{`"appProtocol"`, `"sessionAffinityConfig"`, `"externalTrafficPolicy"`},
			check: func(t *testing.T, v any) {
				s := v.(*kube.Service)
				checkEqual(t, "spec.ports", s.Spec.Ports, []kube.ServicePort{
					{Name: "http", Protocol: "TCP", Port: 80, TargetPort: kube.FromString("http"), NodePort: 30080},
					{Name: "metrics", Protocol: "UDP", Port: 9090, TargetPort: kube.FromInt(19090), NodePort: 30090}})
				checkEqual(t, "spec.clusterIPs", s.Spec.ClusterIPs, []string{"10.96.0.10", "fd00::10"})
				checkEqual(t, "spec.ipFamilies", s.Spec.IPFamilies, []string{"IPv4", "IPv6"})
				checkEqual(t, "spec.type", s.Spec.Type, "NodePort")
				checkEqual(t, "spec.externalIPs", s.Spec.ExternalIPs, []string{"192.0.2.1", "192.0.2.2"})
				checkEqual(t, "spec.sessionAffinity", s.Spec.SessionAffinity, "ClientIP")
			},
		},
		{
			// As kubectl create namespace sends it (kubectl 1.32 and later).
			name: "namespace", gvk: corev1.SchemeGroupVersion.WithKind("Namespace"),
			build: func() runtime.Object {
				return &corev1.Namespace{ObjectMeta: objectMeta("dev"),
					Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes, "example.com/hold"}},
					Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
			},
			porthole: func() any { return new(kube.Namespace) },
			check: func(t *testing.T, v any) {
				ns := v.(*kube.Namespace)
				checkEqual(t, "metadata.name", ns.Name, "dev")
				checkEqual(t, "metadata.labels", ns.Labels, map[string]string{"app": "web", "tier": "front", "empty": ""})
				checkEqual(t, "spec.finalizers", ns.Spec.Finalizers, []string{"kubernetes", "example.com/hold"})
				checkEqual(t, "status.phase", ns.Status.Phase, "Terminating")
			},
		},
		{
			// As kubectl create configmap sends it (kubectl 1.32 and later),
			// with --from-file of a binary file.
			name: "configmap", gvk: corev1.SchemeGroupVersion.WithKind("ConfigMap"),
			build: func() runtime.Object {
				return &corev1.ConfigMap{ObjectMeta: objectMeta("app"), Immutable: ptr.To(true),
					Data:       map[string]string{"greeting": "hello", "app.conf": "port=8080\nname=\"web\"\n", "empty": ""},
					BinaryData: map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G', 0, 0xff, 0xfe}}}
			},
			porthole: func() any { return new(kube.ConfigMap) },
			check: func(t *testing.T, v any) {
				cm := v.(*kube.ConfigMap)
				checkEqual(t, "data", cm.Data, map[string]string{"greeting": "hello", "app.conf": "port=8080\nname=\"web\"\n", "empty": ""})
				checkEqual(t, "binaryData", cm.BinaryData, map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G', 0, 0xff, 0xfe}})
				checkEqual(t, "immutable", cm.Immutable, ptr.To(true))
			},
		},
		{
			// As kubectl create secret sends it (kubectl 1.32 and later):
			// stringData is only ever written, and folded into data after.
			name: "secret", gvk: corev1.SchemeGroupVersion.WithKind("Secret"),
			build: func() runtime.Object {
				return &corev1.Secret{ObjectMeta: objectMeta("creds"), Immutable: ptr.To(true), Type: corev1.SecretTypeBasicAuth,
					Data:       map[string][]byte{"username": []byte("bob"), "key": {0, 0xff, '\n'}, "empty": {}},
					StringData: map[string]string{"password": "s3cr3t"}}
			},
			porthole: func() any { return new(kube.Secret) },
			check: func(t *testing.T, v any) {
				s := v.(*kube.Secret)
				checkEqual(t, "data", s.Data, map[string][]byte{"username": []byte("bob"), "key": {0, 0xff, '\n'}, "empty": {}})
				checkEqual(t, "stringData", s.StringData, map[string]string{"password": "s3cr3t"})
				checkEqual(t, "type", s.Type, "kubernetes.io/basic-auth")
				checkEqual(t, "immutable", s.Immutable, ptr.To(true))
			},
		},
		{
			// A Deployments client's UpdateScale encodes it for apps/v1, where
			// Scale is not registered: the encoder keeps autoscaling/v1.
			name: "scale", gvk: autoscalingv1.SchemeGroupVersion.WithKind("Scale"),
			build: func() runtime.Object { return newScale() }, porthole: func() any { return new(kube.Scale) },
			check: func(t *testing.T, v any) {
				s := v.(*kube.Scale)
				checkEqual(t, "spec.replicas", s.Spec.Replicas, int32(5))
				checkEqual(t, "metadata.resourceVersion", s.ResourceVersion, "99")
				checkEqual(t, "apiVersion", s.APIVersion, "autoscaling/v1")
			},
		},
		{
			// As a Deployments (apps/v1) client's Delete sends it.
			name: "deleteoptions-apps", gvk: appsv1.SchemeGroupVersion.WithKind("DeleteOptions"),
			build: func() runtime.Object {
				return &metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(7)),
					Preconditions:     &metav1.Preconditions{UID: ptr.To(types.UID("7d1f9b5e-0001")), ResourceVersion: ptr.To("42")},
					PropagationPolicy: ptr.To(metav1.DeletePropagationForeground), DryRun: []string{metav1.DryRunAll}}
			},
			porthole: func() any { return new(deleteOptions) },
			check: func(t *testing.T, v any) {
				o := v.(*deleteOptions)
				checkEqual(t, "dryRun", o.DryRun, []string{"All"})
				checkEqual(t, "propagationPolicy", o.PropagationPolicy, ptr.To("Foreground"))
				checkEqual(t, "gracePeriodSeconds", o.GracePeriodSeconds, ptr.To(int64(7)))
				checkEqual(t, "preconditions.uid", o.Preconditions.UID, ptr.To("7d1f9b5e-0001"))
				checkEqual(t, "preconditions.resourceVersion", o.Preconditions.ResourceVersion, ptr.To("42"))
				checkEqual(t, "orphanDependents", o.OrphanDependents, (*bool)(nil))
				checkEqual(t, "apiVersion, kind", o.TypeMeta, kube.TypeMeta{Kind: "DeleteOptions", APIVersion: "apps/v1"})
			},
		},
		{
			// As a core (v1) client's Delete sends it, for a pod or a Service.
			name: "deleteoptions-v1", gvk: corev1.SchemeGroupVersion.WithKind("DeleteOptions"),
			build: func() runtime.Object {
				return &metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0)), OrphanDependents: ptr.To(true),
					Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("3c0ffee"))}}
			},
			porthole: func() any { return new(deleteOptions) },
			check: func(t *testing.T, v any) {
				o := v.(*deleteOptions)
				checkEqual(t, "orphanDependents", o.OrphanDependents, ptr.To(true))
				checkEqual(t, "gracePeriodSeconds", o.GracePeriodSeconds, ptr.To(int64(0)))
				checkEqual(t, "preconditions.uid", o.Preconditions.UID, ptr.To("3c0ffee"))
				checkEqual(t, "preconditions.resourceVersion", o.Preconditions.ResourceVersion, (*string)(nil))
				checkEqual(t, "propagationPolicy", o.PropagationPolicy, (*string)(nil))
				checkEqual(t, "dryRun", o.DryRun, []string(nil))
				checkEqual(t, "apiVersion, kind", o.TypeMeta, kube.TypeMeta{Kind: "DeleteOptions", APIVersion: "v1"})
			},
		},
	}
}

// objectMeta is metadata with every field porthole keeps, and managed
// fields, which it does not.
func objectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, GenerateName: name + "-", Namespace: "team-a",
		UID: types.UID("uid-of-" + name), ResourceVersion: "4711", Generation: 2,
		CreationTimestamp: created,
		Labels:            map[string]string{"app": "web", "tier": "front", "empty": ""},
		Annotations:       map[string]string{"note": "ünïcødé ✓", "multi": "line1\nline2", "json": `{"a":[1,2]}`},
		OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: name + "-5d8f", UID: "uid-of-rs", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)},
			{APIVersion: "v1", Kind: "ConfigMap", Name: "cfg", UID: "uid-of-cm", Controller: ptr.To(false)},
		},
		Finalizers: []string{"example.com/hold", "foregroundDeletion"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate,
			APIVersion: "v1", Time: &created, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}}},
	}
}

func newPod() *corev1.Pod {
	m := objectMeta("web-0")
	m.DeletionTimestamp = &deleted
	m.DeletionGracePeriodSeconds = ptr.To(int64(-3)) // negative: the sign of an int64
	return &corev1.Pod{
		ObjectMeta: m,
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{
				Name: "init", Image: "busybox:1.36", Command: []string{"sh", "-c"}, Args: []string{"until nc -z db 5432; do sleep 1; done"},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
					TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("db"), Host: "10.0.0.9"}}, TimeoutSeconds: 2},
			}},
			Containers: []corev1.Container{
				{
					Name: "app", Image: "registry.example/app:v2", Command: []string{"/bin/server", "--listen=:8080"},
					Args: []string{"--verbose", "", "spaced arg"}, WorkingDir: "/srv",
					Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "EMPTY"},
						{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}},
						{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
							ContainerName: "app", Resource: "limits.cpu", Divisor: resource.MustParse("1m")}}},
						{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, Key: "greeting", Optional: ptr.To(false)}}},
						{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token", Optional: ptr.To(true)}}}},
					EnvFrom: []corev1.EnvFromSource{
						{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
						{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Optional: ptr.To(true)}}},
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
						{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolUDP, HostPort: 19090}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http"),
							Scheme: corev1.URISchemeHTTPS, HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Accept", Value: "*/*"}}}},
						InitialDelaySeconds: -1, // negative: the sign extension of an int32
						TimeoutSeconds:      3, PeriodSeconds: 5, SuccessThreshold: 1, FailureThreshold: 4,
					},
					LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}},
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
					VolumeMounts:             []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
					TerminationMessagePath:   "/dev/termination-log",
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					ImagePullPolicy:          corev1.PullIfNotPresent,
					SecurityContext:          &corev1.SecurityContext{RunAsUser: ptr.To(int64(1000))},
					Stdin:                    true, StdinOnce: true, TTY: true,
				},
				{
					Name: "sidecar", Image: "busybox:1.36", Command: []string{"sleep", "infinity"},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}}},
						PeriodSeconds: 10},
				},
			},
			RestartPolicy:                 corev1.RestartPolicyOnFailure,
			TerminationGracePeriodSeconds: ptr.To(int64(45)),
			DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
			NodeName:                      "node-1",
			SecurityContext:               &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(1000)), RunAsNonRoot: ptr.To(true), FSGroup: ptr.To(int64(2000))},
			SchedulerName:                 "custom-scheduler",
			Volumes:                       []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			NodeSelector:                  map[string]string{"disk": "ssd"},
			Tolerations:                   []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
}

func newDeployment() *appsv1.Deployment {
	m := objectMeta("web")
	m.OwnerReferences, m.GenerateName = nil, ""
	m.Annotations = map[string]string{"deployment.kubernetes.io/revision": "2"}
	return &appsv1.Deployment{
		ObjectMeta: m,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "edge"}},
					{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist}}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"},
					Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2024-05-06T07:00:00Z"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name: "web", Image: "nginx:1.27", Command: []string{"nginx", "-g", "daemon off;"},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080),
								HTTPHeaders: []corev1.HTTPHeader{{Name: "Host", Value: "example.com"}}}},
							InitialDelaySeconds: -1, FailureThreshold: 3,
						},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
					}},
					RestartPolicy:                 corev1.RestartPolicyAlways,
					TerminationGracePeriodSeconds: ptr.To(int64(30)),
					DNSPolicy:                     corev1.DNSClusterFirst,
					SchedulerName:                 corev1.DefaultSchedulerName,
					NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
					Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Volumes:                       []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			MinReadySeconds:         5,
			RevisionHistoryLimit:    ptr.To(int32(4)),
			Paused:                  true,
			ProgressDeadlineSeconds: ptr.To(int32(120)),
		},
	}
}

func newService() *corev1.Service {
	m := objectMeta("web")
	m.OwnerReferences, m.Finalizers = nil, nil
	return &corev1.Service{
		ObjectMeta: m,
		Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http"), NodePort: 30080, AppProtocol: ptr.To("http")},
				{Name: "metrics", Protocol: corev1.ProtocolUDP, Port: 9090, TargetPort: intstr.FromInt32(19090), NodePort: 30090},
			},
			Selector:              map[string]string{"app": "web"},
			ClusterIP:             "10.96.0.10",
			ClusterIPs:            []string{"10.96.0.10", "fd00::10"},
			Type:                  corev1.ServiceTypeNodePort,
			ExternalIPs:           []string{"192.0.2.1", "192.0.2.2"},
			SessionAffinity:       corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(600))}},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
		},
	}
}

func newScale() *autoscalingv1.Scale {
	return &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a", UID: "uid-of-web", ResourceVersion: "99", CreationTimestamp: created},
		Spec:       autoscalingv1.ScaleSpec{Replicas: 5},
	}
}

// encodeProto encodes obj as a typed client of client-go for gv sends it
// with ContentType protobuf: rest.Request.Body takes the encoder from the
// client's negotiator, runtime.NewClientNegotiator over the generated
// clients' codec factory without conversion, for the client's group
// version. The bytes must be those of the converting encoder of
// scheme.Codecs for gv as well.
func encodeProto(t testing.TB, obj runtime.Object, gv schema.GroupVersion) []byte {
	t.Helper()
	n := runtime.NewClientNegotiator(rest.CodecFactoryForGeneratedClient(scheme.Scheme, scheme.Codecs).WithoutConversion(), gv)
	enc, err := n.Encoder(protobufType, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := runtime.Encode(enc, obj)
	if err != nil {
		t.Fatalf("encode %T as protobuf: %v", obj, err)
	}
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), protobufType)
	if !ok {
		t.Fatal("client-go's scheme has no protobuf serializer")
	}
	b2, err := runtime.Encode(scheme.Codecs.EncoderForVersion(info.Serializer, gv), obj)
	if err != nil {
		t.Fatalf("encode %T as protobuf (converting): %v", obj, err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("the two protobuf encoders of %T differ:\n%q\n%q", obj, b, b2)
	}
	if !bytes.HasPrefix(b, []byte("k8s\x00")) {
		t.Fatalf("protobuf encoding of %T lacks the k8s prefix: %q", obj, b)
	}
	return b
}

// encodeJSON is the JSON encoding of obj, with its TypeMeta set to gvk.
func encodeJSON(t testing.TB, obj runtime.Object, gvk schema.GroupVersionKind) []byte {
	t.Helper()
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkEqual reports a field whose value is not the one expected.
func checkEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}
