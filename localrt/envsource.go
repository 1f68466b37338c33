package localrt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/internal/machine"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// configError is why a container's environment cannot be made: its
// status waits with reason CreateContainerConfigError and this message,
// as the kubelet's does, until a retry succeeds.
type configError struct{ msg string }

// reasonConfigError is the waiting reason of a container whose
// environment cannot be made.
const reasonConfigError = "CreateContainerConfigError"

func (e *configError) Error() string { return e.msg }

// configRetry is how long a container whose environment could not be
// made waits before trying again: from initial, doubling, up to max.
var configRetry = backoffPolicy{initial: 500 * time.Millisecond, max: 5 * time.Second}

// resolveEnv is the container's environment as the kubelet makes it when
// it starts the container: every key of the envFrom sources (later
// sources winning), then env, each literal value with $(VAR) references
// to the variables before it expanded, each valueFrom read now.
func (c *container) resolveEnv(ctx context.Context) ([]kube.EnvVar, error) {
	p := c.pod.spec
	var env []kube.EnvVar
	vars := map[string]string{}
	at := map[string]int{} // where each name is in env
	set := func(name, value string) {
		vars[name] = value
		if i, dup := at[name]; dup {
			env[i].Value = value // a later source wins, in the first's place
			return
		}
		at[name] = len(env)
		env = append(env, kube.EnvVar{Name: name, Value: value})
	}
	read := c.sourceReader(ctx)
	for _, from := range c.spec.EnvFrom {
		src, ref := configMapSource, from.ConfigMapRef
		if ref == nil {
			src, ref = secretSource, from.SecretRef
		}
		if ref == nil {
			continue // refused by validation
		}
		data, found, err := read(src, ref.Name, ref.Optional)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if err := noNUL(src, p.Namespace, ref.Name, k, data[k]); err != nil {
				return nil, err
			}
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.spec.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookupIn(vars)))
			continue
		}
		switch vf := e.ValueFrom; {
		case vf.FieldRef != nil:
			v, err := c.podField(vf.FieldRef.FieldPath)
			if err != nil {
				return nil, err
			}
			set(e.Name, v)
		case vf.ConfigMapKeyRef != nil || vf.SecretKeyRef != nil:
			src, ref := configMapSource, vf.ConfigMapKeyRef
			if ref == nil {
				src, ref = secretSource, vf.SecretKeyRef
			}
			data, found, err := read(src, ref.Name, ref.Optional)
			if err != nil {
				return nil, err
			}
			if !found {
				continue
			}
			v, ok := data[ref.Key]
			if !ok {
				if ref.Optional != nil && *ref.Optional {
					continue
				}
				return nil, &configError{fmt.Sprintf("couldn't find key %s in %s %s/%s", ref.Key, src.kind, p.Namespace, ref.Name)}
			}
			if err := noNUL(src, p.Namespace, ref.Name, ref.Key, v); err != nil {
				return nil, err
			}
			set(e.Name, v)
		case vf.ResourceFieldRef != nil:
			v, err := c.resourceField(vf.ResourceFieldRef)
			if err != nil {
				return nil, &configError{fmt.Sprintf("env %s: resourceFieldRef %s: %v", e.Name, vf.ResourceFieldRef.Resource, err)}
			}
			set(e.Name, v)
		}
	}
	return env, nil
}

// noNUL refuses a value no environment variable can hold: execve would
// refuse the whole environment.
func noNUL(src envSource, namespace, name, key, v string) error {
	if strings.IndexByte(v, 0) < 0 {
		return nil
	}
	return &configError{fmt.Sprintf("couldn't use key %s in %s %s/%s: its value holds a NUL byte, which no environment variable can", key, src.kind, namespace, name)}
}

// envSource is a kind of object a container's environment is read
// from, by the names the kubelet's messages give it.
type envSource struct{ kind, lower, get string }

var (
	configMapSource = envSource{"ConfigMap", "configmap", "configMap"}
	secretSource    = envSource{"Secret", "secret", "secret"}
)

// sourceReader returns how the container's start reads a ConfigMap's or
// Secret's data (Options.ConfigMaps, Options.Secrets), each once: found
// is false for a missing one that is optional; a missing one that is
// not, or one that cannot be read, is a configError.
func (c *container) sourceReader(ctx context.Context) func(src envSource, name string, optional *bool) (map[string]string, bool, error) {
	ns := c.pod.spec.Namespace
	opts := c.pod.rt.opts
	read := map[envSource]map[string]map[string]string{}
	return func(src envSource, name string, optional *bool) (map[string]string, bool, error) {
		if data, ok := read[src][name]; ok {
			return data, true, nil
		}
		data, err := map[string]string(nil), error(node.ErrNotFound)
		switch {
		case src == configMapSource && opts.ConfigMaps != nil:
			data, err = opts.ConfigMaps(ctx, ns, name)
		case src == secretSource && opts.Secrets != nil:
			var raw map[string][]byte
			if raw, err = opts.Secrets(ctx, ns, name); err == nil {
				data = make(map[string]string, len(raw))
				for k, v := range raw {
					data[k] = string(v)
				}
			}
		}
		switch {
		case errors.Is(err, node.ErrNotFound) && optional != nil && *optional:
			return nil, false, nil
		case errors.Is(err, node.ErrNotFound):
			return nil, false, &configError{fmt.Sprintf("%s %q not found", src.lower, name)}
		case err != nil:
			return nil, false, &configError{fmt.Sprintf("couldn't get %s %s/%s: %v", src.get, ns, name, err)}
		}
		if read[src] == nil {
			read[src] = map[string]map[string]string{}
		}
		read[src][name] = data
		return data, true, nil
	}
}

// podField is the value of a downward API field of the container's pod.
func (c *container) podField(fieldPath string) (string, error) {
	p := c.pod.spec
	if path, key, ok := kube.SplitFieldPath(fieldPath); ok {
		switch path {
		case "metadata.labels":
			return p.Labels[key], nil
		case "metadata.annotations":
			return p.Annotations[key], nil
		}
	}
	switch fieldPath {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return p.UID, nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return "default", nil // the pod runs as the namespace's default account, as the API server defaults it
	case "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs":
		return podIP, nil
	}
	return "", &configError{fmt.Sprintf("unsupported fieldPath: %s", strings.TrimSpace(fieldPath))}
}

// resourceField is the value of a container's resource limit or request
// as the kubelet gives it: the container's own (a request left out is its
// limit); without one, a limit is the node's allocatable (its processors,
// memory, or the disk of the pod's directory), a request 0; in the
// divisor's unit, rounded up. porthole's runtime enforces none of them.
func (c *container) resourceField(f *kube.ResourceFieldSelector) (string, error) {
	divisor, ok := kube.Divisor(f)
	if !ok {
		return "", fmt.Errorf("divisor %v is not supported", f.Divisor)
	}
	kind, name, _ := strings.Cut(f.Resource, ".")
	if v, set := c.spec.Resource(kind, name); set {
		return strconv.FormatInt(int64(math.Ceil(v/divisor)), 10), nil
	}
	var v float64
	switch f.Resource {
	case "limits.cpu":
		v = float64(runtime.NumCPU())
	case "limits.memory":
		kib := machine.MemTotalKiB()
		if kib == 0 {
			return "", errors.New("this machine's memory is not known")
		}
		v = float64(kib) * 1024
	case "limits.ephemeral-storage":
		var st unix.Statfs_t
		if err := unix.Statfs(c.pod.dir, &st); err != nil {
			return "", fmt.Errorf("the disk of the pod's directory: %w", err)
		}
		v = float64(st.Blocks) * float64(st.Bsize)
	case "requests.cpu", "requests.memory", "requests.ephemeral-storage":
		v = 0
	default:
		return "", errors.New("not a resource porthole's runtime knows")
	}
	return strconv.FormatInt(int64(math.Ceil(v/divisor)), 10), nil
}

// prepareEnv makes the container's environment for its next start,
// waiting (CreateContainerConfigError) and retrying while it cannot be
// made. It reports false when ctx ended first.
func (c *container) prepareEnv(ctx context.Context) bool {
	delay := configRetry.initial
	for logged := ""; ; {
		env, err := c.resolveEnv(ctx)
		if err == nil {
			c.mu.Lock()
			c.env = env
			c.mu.Unlock()
			return true
		}
		if msg := err.Error(); msg != logged { // once, not every retry
			c.pod.rt.log.Warn("container config", "pod", c.pod.spec.Name, "namespace", c.pod.spec.Namespace,
				"container", c.spec.Name, "err", err)
			c.setWaiting(reasonConfigError, msg)
			logged = msg
		}
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, configRetry.max)
	}
}
