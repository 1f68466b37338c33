package localrt

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// newEphemeral is a container of p for an ephemeral container's spec (a
// deep copy is kept).
func newEphemeral(p *pod, spec kube.EphemeralContainer) *container {
	e := spec
	if b, err := json.Marshal(spec); err == nil {
		e = kube.EphemeralContainer{}
		_ = json.Unmarshal(b, &e) // its own encoding decodes
	}
	c := newContainer(p, &e.Container)
	c.ephemeral = &e
	return c
}

// ephemeralContainers are the pod's ephemeral containers so far.
func (p *pod) ephemeralContainers() []*container {
	p.rt.mu.Lock()
	defer p.rt.mu.Unlock()
	return slices.Clip(p.ephemeral)
}

// allContainers are the pod's containers, then its ephemeral ones.
func (p *pod) allContainers() []*container {
	return append(slices.Clip(p.containers), p.ephemeralContainers()...)
}

// AddEphemeralContainer starts an ephemeral container in a running pod,
// as a kubelet does when the API server's pod gains one (kubectl debug):
// a process of the pod like its others, which may be attached to, never
// restarted, and stopped with the pod. Its name must be new in the pod;
// spec is taken as defaulted (kube.PodSpec.Default). The error wraps
// node.ErrNotFound when there is no such pod, and ErrExists when the pod
// has a container of that name.
func (r *Runtime) AddEphemeralContainer(namespace, name string, spec kube.EphemeralContainer) error {
	if !dnsLabel.MatchString(spec.Name) {
		return fmt.Errorf("invalid container name %q", spec.Name)
	}
	if spec.StdinOnce && !spec.Stdin {
		return fmt.Errorf("container %s: stdinOnce requires stdin", spec.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state {
	case stateNew:
		return errors.New("add ephemeral container: the runtime is not started")
	case stateClosed:
		return fmt.Errorf("add ephemeral container: %w", ErrClosed)
	}
	p, ok := r.pods[podKey{namespace, name}]
	if !ok {
		return fmt.Errorf("pod %s/%s: %w", namespace, name, node.ErrNotFound)
	}
	for _, c := range append(slices.Clip(p.containers), p.ephemeral...) {
		if c.spec.Name == spec.Name {
			return fmt.Errorf("container %q in pod %s/%s: %w", spec.Name, namespace, name, ErrExists)
		}
	}
	c := newEphemeral(p, spec)
	p.ephemeral = append(p.ephemeral, c)
	// The pod is in r.pods, so RemovePodGrace has not begun waiting on
	// p.running: this Add comes before its Wait.
	r.wg.Add(1)
	p.running.Add(1)
	go func() {
		defer p.running.Done()
		c.supervise(p.ctx)
	}()
	r.notifyLocked()
	return nil
}
