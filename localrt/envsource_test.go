package localrt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/internal/machine"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// configMaps is a ConfigMap store for Options.ConfigMaps.
type configMaps struct {
	mu   sync.Mutex
	data map[string]map[string]string // by namespace/name
}

func (s *configMaps) get(_ context.Context, namespace, name string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.data[namespace+"/"+name]
	if !ok {
		return nil, node.ErrNotFound
	}
	if d == nil {
		return nil, errors.New("the API server is down")
	}
	return d, nil
}

func (s *configMaps) put(key string, data map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = data
}

// secret reads the store's ConfigMaps as Secrets, for Options.Secrets:
// the same data, as bytes.
func (s *configMaps) secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	d, err := s.get(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(d))
	for k, v := range d {
		out[k] = []byte(v)
	}
	return out, nil
}

func optional(b bool) *bool { return &b }

// TestEnvFromSecrets: Secrets are read into the environment as
// ConfigMaps are (envFrom with its prefix, valueFrom.secretKeyRef), a
// Secret and a ConfigMap of one name are two sources, and a missing
// Secret, a missing key or a value no environment can hold wait with
// the kubelet's reason and say why.
func TestEnvFromSecrets(t *testing.T) {
	cms := &configMaps{data: map[string]map[string]string{"default/app": {"USER": "from-configmap"}}}
	secrets := &configMaps{data: map[string]map[string]string{
		"default/app":  {"USER": "from-secret", "PASS": "s3cr3t"},
		"default/tok":  {"token": "abc=="},
		"default/nul":  {"bad": "a\x00b"},
		"default/down": nil,
	}}
	key := func(name, key string) *kube.EnvVarSource {
		return &kube.EnvVarSource{SecretKeyRef: &kube.KeySelector{Name: name, Key: key}}
	}
	pods := []*kube.Pod{
		testPod("env", kube.Container{Command: []string{"sh", "-c", `echo "$USER $S_USER $S_PASS $TOKEN $CM"; sleep infinity`},
			EnvFrom: []kube.EnvFromSource{
				{ConfigMapRef: &kube.EnvSource{Name: "app"}},
				{Prefix: "S_", SecretRef: &kube.EnvSource{Name: "app"}},
			},
			Env: []kube.EnvVar{
				{Name: "TOKEN", ValueFrom: key("tok", "token")},
				{Name: "CM", ValueFrom: &kube.EnvVarSource{ConfigMapKeyRef: &kube.KeySelector{Name: "app", Key: "USER"}}},
			}}, restartNever),
		testPod("no-secret", kube.Container{Command: []string{"sleep", "infinity"}, Env: []kube.EnvVar{{Name: "V", ValueFrom: key("later", "k")}}}, restartAlways),
		testPod("no-key", kube.Container{Command: []string{"sleep", "infinity"}, Env: []kube.EnvVar{{Name: "V", ValueFrom: key("tok", "k")}}}, restartAlways),
		testPod("nul", kube.Container{Command: []string{"sleep", "infinity"}, EnvFrom: []kube.EnvFromSource{{SecretRef: &kube.EnvSource{Name: "nul"}}}}, restartAlways),
		testPod("unreadable", kube.Container{Command: []string{"sleep", "infinity"}, Env: []kube.EnvVar{{Name: "V", ValueFrom: key("down", "k")}}}, restartAlways),
	}
	r := startOpts(t, &Options{KillGrace: 2 * time.Second, ConfigMaps: cms.get, Secrets: secrets.secret}, pods...)
	waitLog(t, r, "env", "from-configmap from-secret s3cr3t abc== from-configmap\n")
	for name, msg := range map[string]string{
		"no-secret":  `secret "later" not found`,
		"no-key":     `couldn't find key k in Secret default/tok`,
		"nul":        `couldn't use key bad in Secret default/nul: its value holds a NUL byte, which no environment variable can`,
		"unreadable": `couldn't get secret default/down: the API server is down`,
	} {
		p := waitPod(t, r, name, "waiting on its config", func(p *kube.Pod) bool {
			w := p.Status.ContainerStatuses[0].State.Waiting
			return w != nil && w.Reason == "CreateContainerConfigError"
		})
		if got := p.Status.ContainerStatuses[0].State.Waiting.Message; got != msg {
			t.Errorf("%s: waiting with %q, want %q", name, got, msg)
		}
	}
	secrets.put("default/later", map[string]string{"k": "v"})
	waitPod(t, r, "no-secret", "running once its Secret is there", isRunning)
}

// TestEnvFromSources: a container's environment is made as the kubelet
// makes it: envFrom's keys (prefixed, later sources winning, optional
// missing ones skipped), then env over them, literal values expanding
// $(VAR) to the variables before them, the downward API's fields and
// ConfigMap keys read at start. The main process and exec'd ones both
// get it, and $(VAR) in args sees it.
func TestEnvFromSources(t *testing.T) {
	store := &configMaps{data: map[string]map[string]string{
		"default/app":   {"GREETING": "hello", "MODE": "base", "app.conf": "port=1"},
		"default/extra": {"MODE": "extra"},
	}}
	p := testPod("env", kube.Container{
		Command: []string{"sh", "-c", `echo "arg=$1 $GREETING $MODE $OPT_X $POD $NS $UID $NODE $IP $TEAM $NOTE $SA $LATE $FROMKEY $MISSING."; sleep infinity`, "sh", "$(GREETING)-$(MODE)"},
		EnvFrom: []kube.EnvFromSource{
			{ConfigMapRef: &kube.EnvSource{Name: "app"}},
			{ConfigMapRef: &kube.EnvSource{Name: "extra"}},
			{Prefix: "OPT_", ConfigMapRef: &kube.EnvSource{Name: "absent", Optional: optional(true)}},
			{SecretRef: &kube.EnvSource{Name: "creds", Optional: optional(true)}},
		},
		Env: []kube.EnvVar{
			{Name: "POD", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "NS", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "UID", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
			{Name: "NODE", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "IP", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "TEAM", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{FieldPath: "metadata.labels['team']"}}},
			{Name: "NOTE", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{FieldPath: "metadata.annotations['note']"}}},
			{Name: "SA", ValueFrom: &kube.EnvVarSource{FieldRef: &kube.ObjectFieldSelector{FieldPath: "spec.serviceAccountName"}}},
			{Name: "MODE", Value: "$(MODE)+env"}, // sees envFrom's MODE, then replaces it
			{Name: "LATE", Value: "$(POD)/$(LATER)"},
			{Name: "LATER", Value: "x"},
			{Name: "FROMKEY", ValueFrom: &kube.EnvVarSource{ConfigMapKeyRef: &kube.KeySelector{Name: "app", Key: "app.conf"}}},
			{Name: "MISSING", ValueFrom: &kube.EnvVarSource{ConfigMapKeyRef: &kube.KeySelector{Name: "app", Key: "nope", Optional: optional(true)}}},
			{Name: "TOKEN", ValueFrom: &kube.EnvVarSource{SecretKeyRef: &kube.KeySelector{Name: "creds", Key: "t", Optional: optional(true)}}},
		},
	}, restartNever)
	p.UID = "uid-1"
	p.Labels = map[string]string{"team": "web"}
	p.Annotations = map[string]string{"note": "a b"}
	r := startOpts(t, &Options{KillGrace: 2 * time.Second, ConfigMaps: store.get}, p)
	waitPod(t, r, "env", "running", isRunning)
	want := "arg=hello-extra+env hello extra+env  env default uid-1 porthole 127.0.0.1 web a b default env/$(LATER) port=1 ."
	waitLog(t, r, "env", want)

	// An exec'd process gets the same environment.
	var out bytes.Buffer
	if err := r.Exec(context.Background(), ref("env", "main"), []string{"sh", "-c", `echo "$MODE $FROMKEY $POD ${TOKEN-unset} ${MISSING-unset}"`},
		node.Streams{Stdout: &out}); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if got := out.String(); got != "extra+env port=1 env unset unset\n" {
		t.Errorf("exec sees %q", got)
	}
}

// TestEnvResourceFields: a container without limits reads the node's
// allocatable as its limits and 0 as its requests, in the divisor's unit
// rounded up, as the kubelet gives them.
func TestEnvResourceFields(t *testing.T) {
	field := func(name, resource string, divisor any) kube.EnvVar {
		return kube.EnvVar{Name: name, ValueFrom: &kube.EnvVarSource{ResourceFieldRef: &kube.ResourceFieldSelector{Resource: resource, Divisor: divisor}}}
	}
	p := testPod("res", kube.Container{Command: []string{"sh", "-c", `echo "$CPU $MCPU $MEM $MIB $DISK $REQ $RMEM"; sleep infinity`},
		Env: []kube.EnvVar{
			field("CPU", "limits.cpu", nil), field("MCPU", "limits.cpu", "1m"), field("MEM", "limits.memory", float64(1)),
			field("MIB", "limits.memory", "1Mi"), field("DISK", "limits.ephemeral-storage", "1Gi"),
			field("REQ", "requests.cpu", "0"), field("RMEM", "requests.memory", "1k"),
		}}, restartNever)
	r := start(t, p)
	waitPod(t, r, "res", "running", isRunning)
	kib := machine.MemTotalKiB()
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Join(r.stateDir, "default", "res"), &st); err != nil {
		t.Fatal(err)
	}
	disk := (int64(st.Blocks)*int64(st.Bsize) + 1<<30 - 1) >> 30
	n := runtime.NumCPU()
	waitLog(t, r, "res", fmt.Sprintf("%d %d %d %d %d 0 0\n", n, n*1000, kib*1024, (kib+1023)/1024, disk))
}

// TestEnvOwnResourceFields: a container with requests and limits reads
// its own, as the kubelet gives them: cpu rounded up to the divisor, a
// request left out is its limit.
func TestEnvOwnResourceFields(t *testing.T) {
	field := func(name, resource string, divisor any) kube.EnvVar {
		return kube.EnvVar{Name: name, ValueFrom: &kube.EnvVarSource{ResourceFieldRef: &kube.ResourceFieldSelector{Resource: resource, Divisor: divisor}}}
	}
	p := testPod("own", kube.Container{Command: []string{"sh", "-c", `echo "$CPU $MCPU $MEM $MIB $REQ $RMEM"; sleep infinity`},
		Resources: &kube.Resources{
			"limits":   map[string]any{"cpu": "1500m", "memory": "128Mi"},
			"requests": map[string]any{"cpu": float64(0.25)},
		},
		Env: []kube.EnvVar{
			field("CPU", "limits.cpu", nil), field("MCPU", "limits.cpu", "1m"), field("MEM", "limits.memory", nil),
			field("MIB", "limits.memory", "1Mi"), field("REQ", "requests.cpu", "1m"), field("RMEM", "requests.memory", "1Ki"),
		}}, restartNever)
	r := start(t, p)
	waitPod(t, r, "own", "running", isRunning)
	waitLog(t, r, "own", fmt.Sprintf("2 1500 %d 128 250 %d\n", 128<<20, 128<<10))
}

// TestEnvConfigError: a container whose ConfigMap or key is missing
// waits with CreateContainerConfigError, the kubelet's message, and no
// restart counted, until the ConfigMap is there; a Secret without
// Options.Secrets is missing; an unknown divisor is an error that says
// why.
func TestEnvConfigError(t *testing.T) {
	store := &configMaps{data: map[string]map[string]string{}}
	ref := func(name, key string) []kube.EnvVar {
		return []kube.EnvVar{{Name: "V", ValueFrom: &kube.EnvVarSource{ConfigMapKeyRef: &kube.KeySelector{Name: name, Key: key}}}}
	}
	pods := []*kube.Pod{
		testPod("no-map", kube.Container{Command: []string{"sh", "-c", "echo got $V; sleep infinity"}, Env: ref("later", "k")}, restartAlways),
		testPod("no-key", kube.Container{Command: []string{"sleep", "infinity"}, Env: ref("partial", "k")}, restartAlways),
		testPod("no-from", kube.Container{Command: []string{"sleep", "infinity"}, EnvFrom: []kube.EnvFromSource{{ConfigMapRef: &kube.EnvSource{Name: "whole"}}}}, restartAlways),
		testPod("unreadable", kube.Container{Command: []string{"sleep", "infinity"}, Env: ref("down", "k")}, restartAlways),
		testPod("secret", kube.Container{Command: []string{"sleep", "infinity"},
			Env: []kube.EnvVar{{Name: "S", ValueFrom: &kube.EnvVarSource{SecretKeyRef: &kube.KeySelector{Name: "creds", Key: "k"}}}}}, restartAlways),
		testPod("resource", kube.Container{Command: []string{"sleep", "infinity"},
			Env: []kube.EnvVar{{Name: "R", ValueFrom: &kube.EnvVarSource{ResourceFieldRef: &kube.ResourceFieldSelector{Resource: "limits.cpu", Divisor: "1Mi"}}}}}, restartAlways),
	}
	store.put("default/partial", map[string]string{"other": "x"})
	store.put("default/down", nil)
	r := startOpts(t, &Options{KillGrace: 2 * time.Second, ConfigMaps: store.get}, pods...)
	for name, msg := range map[string]string{
		"no-map":     `configmap "later" not found`,
		"no-key":     `couldn't find key k in ConfigMap default/partial`,
		"no-from":    `configmap "whole" not found`,
		"unreadable": `couldn't get configMap default/down: the API server is down`,
		"secret":     `secret "creds" not found`,
		"resource":   `env R: resourceFieldRef limits.cpu: divisor 1Mi is not supported`,
	} {
		p := waitPod(t, r, name, "waiting on its config", func(p *kube.Pod) bool {
			w := p.Status.ContainerStatuses[0].State.Waiting
			return w != nil && w.Reason == "CreateContainerConfigError"
		})
		cs := p.Status.ContainerStatuses[0]
		if cs.State.Waiting.Message != msg || p.Status.Phase != "Pending" || cs.RestartCount != 0 {
			t.Errorf("%s: phase %s, waiting %+v, restarts %d; want Pending, message %q, 0", name, p.Status.Phase, cs.State.Waiting, cs.RestartCount, msg)
		}
	}
	store.put("default/later", map[string]string{"k": "v1"})
	store.put("default/whole", map[string]string{})
	for _, name := range []string{"no-map", "no-from"} {
		if p := waitPod(t, r, name, "running once its ConfigMap is there", isRunning); p.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("%s: restarts %d", name, p.Status.ContainerStatuses[0].RestartCount)
		}
	}
	waitLog(t, r, "no-map", "got v1")
}

// waitLog waits until the pod's main container's log holds want.
func waitLog(t *testing.T, r *Runtime, pod, want string) {
	t.Helper()
	deadline := time.Now().Add(failsafe)
	for {
		b, err := r.Logs(context.Background(), ref(pod, "main"), false)
		if err == nil && strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %s: %q (%v), want %q", pod, b, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
