package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// fakeRuntime serves fixed pods and records its lifecycle; its streaming
// methods fail. It stands in for localrt where output must be exact.
type fakeRuntime struct {
	pods map[node.PodRef]*kube.Pod

	mu              sync.Mutex
	started, closed int
}

func newFakeRuntime(pods ...*kube.Pod) *fakeRuntime {
	f := &fakeRuntime{pods: make(map[node.PodRef]*kube.Pod)}
	for _, p := range pods {
		f.pods[node.PodRef{Namespace: p.Namespace, Name: p.Name}] = p
	}
	return f
}

func (f *fakeRuntime) Pod(ctx context.Context, ns, name string) (*kube.Pod, error) {
	p, ok := f.pods[node.PodRef{Namespace: ns, Name: name}]
	if !ok {
		return nil, fmt.Errorf("pod %s/%s: %w", ns, name, node.ErrNotFound)
	}
	cp := *p
	return &cp, nil
}

var errFake = errors.New("fake runtime runs nothing")

func (f *fakeRuntime) Exec(context.Context, node.Container, []string, node.Streams) error {
	return errFake
}
func (f *fakeRuntime) Attach(context.Context, node.Container, node.Streams) error { return errFake }
func (f *fakeRuntime) PortForward(context.Context, node.PodRef, uint16, io.ReadWriteCloser) error {
	return errFake
}

func (f *fakeRuntime) Start(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	return nil
}

func (f *fakeRuntime) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

func (f *fakeRuntime) counts() (started, closed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started, f.closed
}

// brokenSource fails every lookup with an error other than not found.
type brokenSource struct{}

func (brokenSource) Pod(context.Context, string, string) (*kube.Pod, error) {
	return nil, errors.New("disk on fire")
}

// testPods are the fixture: two pods in default, one in "apps".
func testPods() []*kube.Pod {
	running := kube.ContainerState{Running: &kube.StateRunning{StartedAt: "2026-01-01T10:00:00Z"}}
	mk := func(ns, name string, labels map[string]string) *kube.Pod {
		return &kube.Pod{
			TypeMeta: kube.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: kube.ObjectMeta{Name: name, Namespace: ns, UID: "uid-" + name, ResourceVersion: "7",
				CreationTimestamp: "2026-01-01T10:00:00Z", Labels: labels},
			Spec: kube.PodSpec{Containers: []kube.Container{{Name: "shell", Command: []string{"sh"}, Stdin: true}},
				RestartPolicy: "Always", NodeName: "porthole"},
			Status: kube.PodStatus{Phase: "Running", PodIP: "127.0.0.1", HostIP: "127.0.0.1", StartTime: "2026-01-01T10:00:00Z",
				ContainerStatuses: []kube.ContainerStatus{{Name: "shell", Ready: true, State: running}}},
		}
	}
	done := mk("batch", "job", nil)
	done.Spec.RestartPolicy = "Never"
	done.Status.Phase = "Succeeded"
	done.Status.ContainerStatuses[0].Ready = false
	done.Status.ContainerStatuses[0].State = kube.ContainerState{Terminated: &kube.StateTerminated{
		Reason: "Completed", StartedAt: "2026-01-01T10:00:00Z", FinishedAt: "2026-01-01T10:00:01Z"}}
	return []*kube.Pod{
		mk("default", "demo", map[string]string{"app": "demo"}),
		mk("default", "web", map[string]string{"app": "web", "tier": "front"}),
		mk("apps", "api", map[string]string{"app": "api"}),
		done,
	}
}
