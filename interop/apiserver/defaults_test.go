package apiserver

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/porthole/porthole/kube"
)

// TestPodDefaults: every field porthole fills in a pod spec it serves, as
// the API server does, holds what the real API server fills in the same
// pod (a server-side dry run: admission and defaulting, nothing stored).
// Clients rely on these fields: kubectl debug dereferences the security
// context, and panicked on porthole serve before it was there.
func TestPodDefaults(t *testing.T) {
	manifest := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"defaults","namespace":"default"},
	"spec":{"containers":[
		{"name":"a","image":"busybox"},
		{"name":"b","image":"busybox:1.36","ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}]},
		{"name":"c","image":"registry.example:5000/team/app:latest","imagePullPolicy":"Never","terminationMessagePolicy":"FallbackToLogsOnError"},
		{"name":"d","image":"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}],
	"terminationGracePeriodSeconds":3}}`)
	ensureServiceAccount(t)
	var ours kube.Pod
	if err := json.Unmarshal(manifest, &ours); err != nil {
		t.Fatal(err)
	}
	ours.Spec.Default()
	var pod corev1.Pod
	if err := json.Unmarshal(manifest, &pod); err != nil {
		t.Fatal(err)
	}
	theirs, err := env.cp.Admin.CoreV1().Pods("default").Create(t.Context(), &pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	got, want := jsonMap(t, ours.Spec), jsonMap(t, theirs.Spec)
	for _, k := range []string{"restartPolicy", "terminationGracePeriodSeconds", "dnsPolicy", "securityContext", "schedulerName"} {
		if _, ok := got[k]; !ok {
			t.Errorf("porthole's spec has no %s: %v", k, got)
		}
	}
	checkSubset(t, "spec", got, want)
}

// checkSubset reports every value of got that differs from want's at the
// same place; lists must have the same length, maps need not.
func checkSubset(t *testing.T, path string, got, want any) {
	t.Helper()
	switch g := got.(type) {
	case map[string]any:
		w, ok := want.(map[string]any)
		if !ok {
			t.Errorf("%s: porthole has an object, the API server %v", path, want)
			return
		}
		for k, v := range g {
			wv, ok := w[k]
			if !ok {
				t.Errorf("%s.%s: porthole has %v, the API server nothing", path, k, v)
				continue
			}
			checkSubset(t, path+"."+k, v, wv)
		}
	case []any:
		w, ok := want.([]any)
		if !ok || len(w) != len(g) {
			t.Errorf("%s: porthole has %v, the API server %v", path, got, want)
			return
		}
		for i := range g {
			checkSubset(t, path+"["+strconv.Itoa(i)+"]", g[i], w[i])
		}
	default:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: porthole has %v, the API server %v", path, got, want)
		}
	}
}

func jsonMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
