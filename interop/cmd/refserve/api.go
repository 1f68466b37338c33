package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	apiproxy "k8s.io/apimachinery/pkg/util/proxy"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/version"

	"github.com/porthole/porthole/interop/criref"
)

func readPods(path string) ([]corev1.Pod, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var pods []corev1.Pod
	for {
		var p corev1.Pod
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pods, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode manifest: %w", err)
		}
		if p.Name == "" {
			continue
		}
		if p.Namespace == "" {
			p.Namespace = "default"
		}
		pods = append(pods, p)
	}
}

func containers(pods []corev1.Pod) []criref.Container {
	var out []criref.Container
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			out = append(out, criref.Container{
				ID:      p.Namespace + "/" + p.Name + "/" + c.Name,
				Command: append(append([]string(nil), c.Command...), c.Args...),
				TTY:     c.TTY, Stdin: c.Stdin, StdinOnce: c.StdinOnce,
			})
		}
	}
	return out
}

type api struct {
	pods map[string]*corev1.Pod // ns/name
	node *url.URL
	mux  *http.ServeMux
}

func newAPI(pods []corev1.Pod, nodeURL string) (*api, error) {
	u, err := url.Parse(nodeURL)
	if err != nil {
		return nil, err
	}
	a := &api{pods: map[string]*corev1.Pod{}, node: u, mux: http.NewServeMux()}
	now := metav1.NewTime(time.Now())
	for i := range pods {
		p := &pods[i]
		p.APIVersion, p.Kind = "v1", "Pod"
		p.UID = types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
		p.ResourceVersion = "1"
		p.CreationTimestamp = now
		p.Spec.NodeName = "reference"
		p.Status.Phase = corev1.PodRunning
		p.Status.StartTime = &now
		for _, c := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Ready: true, Image: c.Image,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			})
		}
		a.pods[p.Namespace+"/"+p.Name] = p
	}
	a.routes()
	return a, nil
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *api) routes() {
	ok := func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }
	a.mux.HandleFunc("GET /readyz", ok)
	a.mux.HandleFunc("GET /healthz", ok)
	a.mux.HandleFunc("GET /livez", ok)
	a.mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2", Platform: "linux/amd64"})
	})
	a.mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
		})
	})
	a.mux.HandleFunc("GET /apis", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}})
	})
	a.mux.HandleFunc("GET /api/v1", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "v1",
			APIResources: []metav1.APIResource{
				{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", ShortNames: []string{"po"}, Verbs: []string{"get", "list"}},
				{Name: "pods/attach", Namespaced: true, Kind: "PodAttachOptions", Verbs: []string{"create", "get"}},
				{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
				{Name: "pods/portforward", Namespaced: true, Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}},
			},
		})
	})
	a.mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods", func(w http.ResponseWriter, r *http.Request) {
		list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, ListMeta: metav1.ListMeta{ResourceVersion: "1"}}
		for _, p := range a.pods {
			if p.Namespace == r.PathValue("ns") {
				list.Items = append(list.Items, *p)
			}
		}
		writeJSON(w, 200, list)
	})
	a.mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{pod}", func(w http.ResponseWriter, r *http.Request) {
		if p := a.pod(w, r); p != nil {
			writeJSON(w, 200, p)
		}
	})
	for _, sub := range []string{"exec", "attach", "portforward"} {
		a.mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}/"+sub, a.stream)
	}
}

func (a *api) pod(w http.ResponseWriter, r *http.Request) *corev1.Pod {
	p := a.pods[r.PathValue("ns")+"/"+r.PathValue("pod")]
	if p == nil {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", r.PathValue("pod")))
	}
	return p
}

// stream checks the pod and container as the API server does, then proxies
// the request unchanged to the reference node with the API server's
// upgrade-aware proxy.
func (a *api) stream(w http.ResponseWriter, r *http.Request) {
	p := a.pod(w, r)
	if p == nil {
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/portforward") {
		name := r.URL.Query().Get("container")
		switch {
		case name == "" && len(p.Spec.Containers) != 1:
			var names []string
			for _, c := range p.Spec.Containers {
				names = append(names, c.Name)
			}
			writeStatus(w, 400, metav1.StatusReasonBadRequest, fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", p.Name, names))
			return
		case name != "" && !hasContainer(p, name):
			writeStatus(w, 400, metav1.StatusReasonBadRequest, fmt.Sprintf("container %s is not valid for pod %s", name, p.Name))
			return
		}
	}
	loc := *a.node
	loc.Path = r.URL.Path
	loc.RawQuery = r.URL.RawQuery
	h := apiproxy.NewUpgradeAwareHandler(&loc, nil, false, true, responder{})
	h.ServeHTTP(w, r)
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

type responder struct{}

func (responder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeStatus(w, 500, "", "error dialing backend: "+err.Error())
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	writeJSON(w, code, metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code),
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
