package serve

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// TestKubectlEvents: what happens to pods and workloads reaches kubectl as
// on a real cluster, with every kubectl: describe shows a crash-looping
// pod's scheduling, starts and back-off, a failing readiness probe, and a
// Deployment's scaling;
// kubectl events and get events list them, filtered as asked.
func TestKubectlEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	objs, err := kube.Decode(strings.NewReader(`
apiVersion: v1
kind: Pod
metadata: {name: crashy}
spec:
  containers:
  - {name: c, command: [sh, -c, 'exit 3']}
---
apiVersion: v1
kind: Pod
metadata: {name: unready}
spec:
  containers:
  - name: c
    command: [sleep, "1000"]
    readinessProbe:
      exec: {command: [sh, -c, 'echo not yet; exit 1']}
      periodSeconds: 1
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: w, command: [sleep, "1000"]}
`), "events.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	s, _ := startServer(t, Options{Pods: objs.Pods, Deployments: objs.Deployments, KubeconfigPath: kc})
	for _, sel := range []string{"involvedObject.name%3Dcrashy,reason%3DBackOff", "involvedObject.name%3Dunready,reason%3DUnhealthy"} {
		for {
			var l kube.EventList
			getJSON(t, s, "/api/v1/namespaces/default/events?fieldSelector="+sel, &l)
			if len(l.Items) == 1 {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
		}
	}
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			out, errOut, code := k.run(t, "describe", "pod", "crashy")
			_, events, _ := strings.Cut(out, "\nEvents:\n")
			for _, want := range []string{
				"Normal   Scheduled  ", "default-scheduler  Successfully assigned default/crashy to porthole\n",
				"kubelet            Started container c\n",
				"Warning  BackOff    ", "kubelet            Back-off restarting failed container c in pod crashy_default(",
			} {
				if code != 0 || !strings.Contains(events, want) {
					t.Errorf("describe pod: exit %d, no %q in the events:\n%s%s", code, want, events, errOut)
				}
			}
			out, errOut, code = k.run(t, "describe", "pod", "unready")
			if code != 0 || !regexpMatch(`Warning  Unhealthy  .* kubelet +Readiness probe failed: exec sh -c echo not yet; exit 1: .*: not yet\n`, out) {
				t.Errorf("describe pod unready: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = k.run(t, "describe", "deployment", "web")
			if code != 0 || !regexpMatch(`Normal  ScalingReplicaSet  \S+ +deployment-controller  Scaled up replica set web-[a-z0-9]+ from 0 to 1\n`, out) {
				t.Errorf("describe deployment: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = k.run(t, "events", "--for", "pod/crashy", "--types", "Warning")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code != 0 || len(lines) != 2 || !strings.Contains(lines[1], "Warning   BackOff   Pod/crashy   Back-off restarting failed container c") {
				t.Errorf("events --for pod/crashy --types Warning: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = k.run(t, "get", "events", "--field-selector", "involvedObject.kind=ReplicaSet", "-o", "wide")
			lines = strings.Split(strings.TrimSpace(out), "\n")
			if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "LAST SEEN TYPE REASON OBJECT SUBOBJECT SOURCE MESSAGE FIRST SEEN COUNT NAME" ||
				!regexpMatch(`Normal +SuccessfulCreate +replicaset/web-\S+ +replicaset-controller +Created pod: web-\S+ +\S+ +1 +web-`, lines[1]) {
				t.Errorf("get events -o wide: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
