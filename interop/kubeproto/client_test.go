package kubeproto

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/porthole/porthole/serve"
)

// TestTypedClientProtobuf: client-go's typed clientset, configured to send
// protobuf (as kubectl 1.32 and later are), creates a Deployment and a
// Service, scales the Deployment and deletes both against porthole serve,
// and creates and deletes a namespace;
// a dry-run delete deletes nothing, an unknown dry run is a BadRequest. Every
// write goes as protobuf, which a recording transport checks.
func TestTypedClientProtobuf(t *testing.T) {
	config, err := clientcmd.BuildConfigFromFlags("", serveCluster(t))
	if err != nil {
		t.Fatal(err)
	}
	config.ContentType = protobufType
	config.AcceptContentTypes = protobufType + ",application/json"
	rec := &recorder{}
	config.Wrap(rec.wrap)
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const ns, name = "default", "proto"
	deployments, services := cs.AppsV1().Deployments(ns), cs.CoreV1().Services(ns)
	labels := map[string]string{"app": name}

	d, err := deployments.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "main", Image: "busybox", Command: []string{"sleep", "infinity"}}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the Deployment: %v", err)
	}
	if d.UID == "" || d.Generation != 1 {
		t.Errorf("created Deployment: uid %q, generation %d; want a uid and generation 1", d.UID, d.Generation)
	}
	if got := d.Spec.RevisionHistoryLimit; got == nil || *got != 10 {
		t.Errorf("created Deployment: revisionHistoryLimit %v, want the default 10", ptrString(got))
	}
	if got := d.Spec.Template.Spec.Containers; len(got) != 1 || !slices.Equal(got[0].Command, []string{"sleep", "infinity"}) {
		t.Errorf("created Deployment: containers %+v, want one with command [sleep infinity]", got)
	}
	if got := d.Spec.Replicas; got == nil || *got != 2 {
		t.Errorf("created Deployment: replicas %v, want 2", ptrString(got))
	}
	awaitPods(t, cs, ns, "app="+name, 2)

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	s, err := services.Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the Service: %v", err)
	}
	if ip := s.Spec.ClusterIP; ip == "" || ip == corev1.ClusterIPNone {
		t.Errorf("created Service: clusterIP %q, want one allocated", ip)
	}
	if s.Spec.Selector["app"] != name {
		t.Errorf("created Service: selector %v, want app=%s", s.Spec.Selector, name)
	}
	if got := s.Spec.Ports; len(got) != 1 || got[0].Port != 80 || got[0].TargetPort != intstr.FromInt32(8080) {
		t.Errorf("created Service: ports %+v, want 80 to 8080", got)
	}
	if _, err := services.Create(ctx, svc, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("create the Service again: %v, want AlreadyExists", err)
	}

	scale, err := deployments.GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get the scale: %v", err)
	}
	scale.Spec.Replicas = 3
	scaled, err := deployments.UpdateScale(ctx, name, scale, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update the scale: %v", err)
	}
	if scaled.Spec.Replicas != 3 {
		t.Errorf("updated scale: replicas %d, want 3", scaled.Spec.Replicas)
	}
	awaitPods(t, cs, ns, "app="+name, 3)

	if err := deployments.Delete(ctx, name, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("dry-run delete: %v", err)
	}
	err = deployments.Delete(ctx, name, metav1.DeleteOptions{DryRun: []string{"Some"}})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `dryRun: Unsupported value: "Some"`) {
		t.Errorf("delete with an unknown dry run: %v, want BadRequest", err)
	}
	if d, err := deployments.Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Errorf("after the dry-run delete: %v", err)
	} else if d.DeletionTimestamp != nil || *d.Spec.Replicas != 3 {
		t.Errorf("after the dry-run delete: deletionTimestamp %v, replicas %d; want none and 3", d.DeletionTimestamp, *d.Spec.Replicas)
	}

	foreground := metav1.DeletePropagationForeground
	if err := deployments.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &foreground}); err != nil {
		t.Fatalf("delete the Deployment in the foreground: %v", err)
	}
	poll(t, time.Minute, "the Deployment, its ReplicaSet and its pods gone", func() (bool, string) {
		d, err := deployments.Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil && d.DeletionTimestamp == nil:
			t.Fatalf("the Deployment deleted in the foreground is not being deleted: %+v", d.ObjectMeta)
		case err == nil:
			if !slices.Contains(d.Finalizers, metav1.FinalizerDeleteDependents) {
				t.Fatalf("the Deployment deleted in the foreground lacks the %s finalizer: %v", metav1.FinalizerDeleteDependents, d.Finalizers)
			}
			return false, "the Deployment remains"
		case !apierrors.IsNotFound(err):
			t.Fatalf("get the Deployment: %v", err)
		}
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			t.Fatalf("list pods: %v", err)
		}
		if n := len(pods.Items); n > 0 {
			return false, fmt.Sprintf("%d pods remain", n)
		}
		rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list ReplicaSets: %v", err)
		}
		if n := len(rss.Items); n > 0 {
			return false, fmt.Sprintf("%d ReplicaSets remain", n)
		}
		return true, ""
	})

	if err := services.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete the Service: %v", err)
	}
	if _, err := services.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get the deleted Service: %v, want NotFound", err)
	}

	// A bare pod, deleted with preconditions and a grace period, which
	// porthole reads from the protobuf DeleteOptions.
	pods := cs.CoreV1().Pods(ns)
	pod, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bare", Labels: map[string]string{"app": "bare"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "busybox", Command: []string{"sleep", "infinity"}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the pod: %v", err)
	}
	if got := pod.Spec.Containers; pod.UID == "" || len(got) != 1 || !slices.Equal(got[0].Command, []string{"sleep", "infinity"}) {
		t.Errorf("created pod: uid %q, containers %+v; want a uid and one container with command [sleep infinity]", pod.UID, got)
	}
	awaitPods(t, cs, ns, "app=bare", 1)
	wrong := metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions("not-" + string(pod.UID))}
	if err := pods.Delete(ctx, "bare", wrong); !apierrors.IsConflict(err) {
		t.Errorf("delete the pod with a wrong uid precondition: %v, want Conflict", err)
	}
	if err := pods.Delete(ctx, "bare", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0)),
		Preconditions: metav1.NewUIDPreconditions(string(pod.UID))}); err != nil {
		t.Fatalf("delete the pod: %v", err)
	}
	// Grace period 0: gone at once, not marked for deletion.
	if _, err := pods.Get(ctx, "bare", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get the pod deleted with grace period 0: %v, want NotFound", err)
	}

	// A namespace, created and deleted; it refuses new pods meanwhile.
	namespaces := cs.CoreV1().Namespaces()
	created, err := namespaces.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "proto-ns",
		Labels: map[string]string{"team": "proto"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the namespace: %v", err)
	}
	if created.UID == "" || created.Labels["team"] != "proto" || created.Labels["kubernetes.io/metadata.name"] != "proto-ns" ||
		created.Status.Phase != corev1.NamespaceActive {
		t.Errorf("created namespace: %+v", created)
	}
	if err := namespaces.Delete(ctx, "proto-ns", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete the namespace: %v", err)
	}
	_, err = cs.CoreV1().Pods("proto-ns").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "late"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		t.Errorf("a pod in the terminating namespace: %v, want Forbidden with the NamespaceTerminating cause", err)
	}

	// A ConfigMap, and a pod that reads its environment from it and from
	// the downward API, both created in protobuf.
	configMaps := cs.CoreV1().ConfigMaps(ns)
	cm, err := configMaps.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "proto-cfg"},
		Data: map[string]string{"GREETING": "hello", "MODE": "prod"}, BinaryData: map[string][]byte{"blob": {0, 0xff}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the ConfigMap: %v", err)
	}
	if cm.UID == "" || cm.Data["MODE"] != "prod" || !bytes.Equal(cm.BinaryData["blob"], []byte{0, 0xff}) {
		t.Errorf("created ConfigMap: %+v", cm)
	}
	_, err = pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "env", Labels: map[string]string{"app": "env"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox",
			Command: []string{"sh", "-c", `echo "$GREETING $MODE $ME $KEY"; sleep infinity`},
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "proto-cfg"}}}},
			Env: []corev1.EnvVar{
				{Name: "ME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "KEY", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "proto-cfg"}, Key: "MODE"}}},
			}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the pod reading the ConfigMap: %v", err)
	}
	awaitPods(t, cs, ns, "app=env", 1)
	poll(t, time.Minute, "the pod's environment in its log", func() (bool, string) {
		b, err := pods.GetLogs("env", &corev1.PodLogOptions{}).DoRaw(ctx)
		return err == nil && string(b) == "hello prod env prod\n", fmt.Sprintf("%q %v", b, err)
	})
	if err := configMaps.Delete(ctx, "proto-cfg", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete the ConfigMap: %v", err)
	}
	if err := pods.Delete(ctx, "env", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		t.Fatalf("delete the pod: %v", err)
	}

	// Each write went as protobuf.
	rec.mu.Lock()
	for _, r := range rec.reqs {
		t.Logf("sent %s %s as %s, %d bytes", r.method, r.path, r.contentType, len(r.body))
	}
	rec.mu.Unlock()
	for _, w := range []string{
		"POST /apis/apps/v1/namespaces/default/deployments",
		"POST /api/v1/namespaces/default/services",
		"PUT /apis/apps/v1/namespaces/default/deployments/proto/scale",
		"DELETE /apis/apps/v1/namespaces/default/deployments/proto",
		"DELETE /api/v1/namespaces/default/services/proto",
		"POST /api/v1/namespaces/default/pods",
		"DELETE /api/v1/namespaces/default/pods/bare",
		"POST /api/v1/namespaces",
		"DELETE /api/v1/namespaces/proto-ns",
		"POST /api/v1/namespaces/default/configmaps",
		"DELETE /api/v1/namespaces/default/configmaps/proto-cfg",
	} {
		if got := rec.find(w); len(got) == 0 {
			t.Errorf("no %s was sent", w)
		} else {
			for _, r := range got {
				if r.contentType != protobufType || !bytes.HasPrefix(r.body, []byte("k8s\x00")) {
					t.Errorf("%s sent as %q: %q", w, r.contentType, r.body)
				}
			}
		}
	}
}

// serveCluster runs porthole's one-process cluster in this process (with
// its demo pod) until the test ends and returns its kubeconfig.
func serveCluster(t *testing.T) string {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	ready := &readyWriter{ready: make(chan struct{})}
	srv, err := serve.New(&serve.Options{Listen: "127.0.0.1:0", KubeconfigPath: kubeconfig, Out: ready})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case <-ready.ready:
	case err := <-done:
		t.Fatalf("serve ended before it was ready: %v", err)
	}
	return kubeconfig
}

// readyWriter closes ready on the server's first banner write.
type readyWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

// awaitPods waits until exactly n pods match selector, none being
// deleted, all Running and Ready.
func awaitPods(t *testing.T, cs kubernetes.Interface, ns, selector string, n int) {
	t.Helper()
	poll(t, time.Minute, fmt.Sprintf("%d pods %s Running and Ready", n, selector), func() (bool, string) {
		pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatalf("list pods: %v", err)
		}
		var states []string
		ready := 0
		for _, p := range pods.Items {
			ok := p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(&p)
			if ok {
				ready++
			}
			states = append(states, fmt.Sprintf("%s %s ready=%v deleting=%v", p.Name, p.Status.Phase, podReady(&p), p.DeletionTimestamp != nil))
		}
		return ready == n && len(pods.Items) == n, strings.Join(states, "; ")
	})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// poll calls cond every 20 ms until it holds, failing the test if it does
// not within timeout. It polls a state of the cluster (pods started by
// its controllers, objects gone), which no event announces to a client.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not %s: %s", timeout, what, state)
		}
		time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// recorder records the writes a client sends: method, path, Content-Type
// and body.
type recorder struct {
	mu   sync.Mutex
	reqs []sent
}

type sent struct {
	method, path, contentType string
	body                      []byte
}

func (rec *recorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodGet {
			var body []byte
			if r.GetBody != nil {
				rc, err := r.GetBody()
				if err != nil {
					return nil, err
				}
				body, err = io.ReadAll(rc)
				rc.Close()
				if err != nil {
					return nil, err
				}
			}
			rec.mu.Lock()
			rec.reqs = append(rec.reqs, sent{r.Method, r.URL.Path, r.Header.Get("Content-Type"), body})
			rec.mu.Unlock()
		}
		return rt.RoundTrip(r)
	})
}

// find returns the recorded requests of "METHOD path".
func (rec *recorder) find(request string) []sent {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []sent
	for _, r := range rec.reqs {
		if r.method+" "+r.path == request {
			out = append(out, r)
		}
	}
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
