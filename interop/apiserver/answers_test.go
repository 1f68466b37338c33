package apiserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestSameAnswers: porthole serve answers the requests that clients other
// than kubectl make (the official Python client's paths and query
// values, bodies without kind or apiVersion) as the real API server
// answers them: the same status code, and for a success the same kind of
// object, or a watch stream for a watch. Each request goes to both.
func TestSameAnswers(t *testing.T) {
	ctx := t.Context()
	ensureServiceAccount(t)
	srv, err := harness.StartServer(ctx, env.porthole, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })

	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "answers"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "answers"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "answers"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "3600"}}}}}}}
	ourClient, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*kubernetes.Clientset{env.cp.Admin, ourClient} {
		if _, err := c.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.AppsV1().Deployments("default").Delete(ctx, dep.Name, metav1.DeleteOptions{}) })
	}

	pod := func(typeMeta string) string {
		return `{` + typeMeta + `"metadata":{"name":"answers"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	}
	const pods, namespaces = "/api/v1/namespaces/default/pods", "/api/v1/namespaces"
	cases := []struct {
		name, method, path, body string
	}{
		{"version with a slash (python's get_code)", "GET", "/version/", ""},
		{"core versions with a slash (python's CoreApi)", "GET", "/api/", ""},
		{"groups with a slash (python's ApisApi)", "GET", "/apis/", ""},
		{"core resources with a slash (python's get_api_resources)", "GET", "/api/v1/", ""},
		{"a group with a slash", "GET", "/apis/apps/", ""},
		{"a group's resources with a slash", "GET", "/apis/apps/v1/", ""},
		{"a deployment's status", "GET", "/apis/apps/v1/namespaces/default/deployments/answers/status", ""},
		{"a namespace's status", "GET", "/api/v1/namespaces/default/status", ""},
		{"watch=True (python)", "GET", namespaces + "?watch=True&timeoutSeconds=1", ""},
		{"watch=1", "GET", namespaces + "?watch=1&timeoutSeconds=1", ""},
		{"watch=false", "GET", namespaces + "?watch=false", ""},
		{"watch=0", "GET", namespaces + "?watch=0", ""},
		{"watch=yes", "GET", namespaces + "?watch=yes&timeoutSeconds=1", ""},
		{"resourceVersionMatch without resourceVersion", "GET", pods + "?resourceVersionMatch=NotOlderThan", ""},
		{"resourceVersionMatch=Exact with 0", "GET", pods + "?resourceVersion=0&resourceVersionMatch=Exact", ""},
		{"resourceVersion=0", "GET", pods + "?resourceVersion=0", ""},
		{"initial events without resourceVersionMatch", "GET", namespaces + "?watch=1&sendInitialEvents=true&timeoutSeconds=1", ""},
		{"a bad label selector", "GET", pods + "?labelSelector=a%3D%3D%3Db", ""},
		{"an unknown field selector", "GET", pods + "?fieldSelector=spec.nothing%3Dx", ""},
		{"a bad timeoutSeconds", "GET", namespaces + "?watch=1&timeoutSeconds=soon", ""},
		{"pods of a namespace that does not exist", "GET", "/api/v1/namespaces/answers-none/pods", ""},
		{"a pod of a namespace that does not exist", "GET", "/api/v1/namespaces/answers-none/pods/x", ""},
		{"a pod created in a namespace that does not exist", "POST", "/api/v1/namespaces/answers-none/pods?dryRun=All", pod(``)},
		{"a patch of an unknown type", "PATCH", "/apis/apps/v1/namespaces/default/deployments/answers", `{}`},
		{"a pod without kind or apiVersion (python's models)", "POST", pods + "?dryRun=All", pod(``)},
		{"a pod without apiVersion", "POST", pods + "?dryRun=All", pod(`"kind":"Pod",`)},
		{"a pod without kind", "POST", pods + "?dryRun=All", pod(`"apiVersion":"v1",`)},
		{"a Service sent as a pod", "POST", pods + "?dryRun=All", pod(`"apiVersion":"v1","kind":"Service",`)},
		{"a pod of another version", "POST", pods + "?dryRun=All", pod(`"apiVersion":"v2","kind":"Pod",`)},
		{"a deployment without kind or apiVersion", "POST", "/apis/apps/v1/namespaces/default/deployments?dryRun=All",
			`{"metadata":{"name":"answers2"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`},
		{"delete a collection (python's delete_collection_*)", "DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=answers%3Dnone&dryRun=All", ""},
		{"delete a collection of pods", "DELETE", pods + "?labelSelector=answers%3Dnone", ""},
		{"delete every namespace", "DELETE", namespaces + "?labelSelector=answers%3Dnone&dryRun=All", ""},
		{"a config map without kind or apiVersion", "POST", "/api/v1/namespaces/default/configmaps?dryRun=All", `{"metadata":{"name":"answers"},"data":{"a":"b"}}`},
		{"a deployment replaced without kind or apiVersion", "PUT", "/apis/apps/v1/namespaces/default/deployments/answers?dryRun=All",
			`{"metadata":{"name":"answers"},"spec":{"selector":{"matchLabels":{"app":"answers"}},"template":{"metadata":{"labels":{"app":"answers"}},"spec":{"containers":[{"name":"c","image":"busybox:2","command":["sleep","3600"]}]}}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := answer(t, env.cp.Config, tc.method, tc.path, tc.body)
			got := answer(t, srv.Config, tc.method, tc.path, tc.body)
			if got != want {
				t.Errorf("%s %s: porthole answers %s, the API server %s", tc.method, tc.path, got, want)
			}
		})
	}
}

// answer sends one request with cfg's credentials and sums up the answer:
// the status code, and what the body is (an object's apiVersion and kind,
// a Status's reason, or a watch stream's event types).
func answer(t *testing.T, cfg *rest.Config, method, path, body string) string {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	code, raw := send(t, cfg, method, path, ctype, body)
	var head struct {
		APIVersion string          `json:"apiVersion"`
		Kind       string          `json:"kind"`
		Reason     string          `json:"reason"`
		Message    string          `json:"message"`
		Type       string          `json:"type"`
		Object     json.RawMessage `json:"object"`
	}
	sum := fmt.Sprintf("%d %s", code, http.StatusText(code))
	if json.Unmarshal(raw, &head) == nil {
		switch {
		case head.Kind == "Status" && head.Reason == "Invalid":
			return sum + " Status Invalid: " + head.Message // the field errors, word for word
		case head.Kind == "Status":
			return sum + " Status " + head.Reason
		case head.Kind == "":
			return sum + " an object" // /version's
		}
		return sum + " " + head.APIVersion + " " + head.Kind
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 8<<20)
	if sc.Scan() && json.Unmarshal(sc.Bytes(), &head) == nil && head.Type != "" && head.Object != nil {
		// A watch: every line an event; the first's type (the two
		// servers hold different objects, so not the rest).
		for sc.Scan() {
			var ev struct{ Type string }
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Type == "" {
				t.Fatalf("%s %s: a watch line is not an event: %q", method, path, sc.Bytes())
			}
		}
		return sum + " watch " + head.Type
	}
	return sum + " " + strings.TrimSpace(string(raw[:min(len(raw), 80)]))
}
