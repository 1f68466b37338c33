package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// workloadManifest is a Service in front of a two-pod Deployment whose
// container port "http" is port, and a bare pod.
func workloadManifest(t *testing.T, port int) Options {
	t.Helper()
	objs, err := kube.Decode(strings.NewReader(fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: sleeper
        command: [sleep, infinity]
        ports: [{name: http, containerPort: %d}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec: {containers: [{name: c, command: [sleep, infinity]}]}
`, port)), "web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return Options{Pods: objs.Pods, Services: objs.Services, Deployments: objs.Deployments, ReplicaSets: objs.ReplicaSets}
}

// getJSON GETs an API path into v.
func getJSON(t *testing.T, s *Server, path string, v any) {
	t.Helper()
	code, body := get(t, s.URL()+path)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// readyPods waits until exactly n pods match selector and all are
// Running and Ready, and returns their names, sorted. The wait is bounded
// by the test's deadline.
func readyPods(t *testing.T, s *Server, selector string, n int) []string {
	t.Helper()
	for {
		var l kube.PodList
		getJSON(t, s, "/api/v1/namespaces/default/pods?labelSelector="+selector, &l)
		var names []string
		for _, p := range l.Items {
			if p.Status.Phase == "Running" && p.IsReady() && p.DeletionTimestamp == "" {
				names = append(names, p.Name)
			}
		}
		if len(names) == n && len(l.Items) == n {
			slices.Sort(names)
			return names
		}
		time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
	}
}

// startWorkloads runs the server of workloadManifest, writing its
// kubeconfig, and returns once the Deployment's two pods are ready.
func startWorkloads(t *testing.T) (s *Server, kubeconfig string, pods []string) {
	t.Helper()
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	opts := workloadManifest(t, 1)
	opts.KubeconfigPath = kubeconfig
	s, _ = startServer(t, opts)
	return s, kubeconfig, readyPods(t, s, "app%3Dweb", 2)
}

// TestKubectlWorkloads: a Service, a Deployment (its ReplicaSet and pods)
// and a bare pod from manifests, as every kubectl release sees them.
func TestKubectlWorkloads(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	s, kc, pods := startWorkloads(t)
	var rsList kube.ReplicaSetList
	getJSON(t, s, "/apis/apps/v1/namespaces/default/replicasets", &rsList)
	if len(rsList.Items) != 1 {
		t.Fatalf("replica sets: %+v", rsList.Items)
	}
	rs := rsList.Items[0]
	hash := rs.Labels["pod-template-hash"]
	if hash == "" || rs.Name != "web-"+hash || rs.OwnerReferences[0].Kind != "Deployment" || rs.OwnerReferences[0].Name != "web" {
		t.Fatalf("replica set %s: labels %v owners %+v", rs.Name, rs.Labels, rs.OwnerReferences)
	}
	podName := regexp.MustCompile(`^` + regexp.QuoteMeta(rs.Name) + `-[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	for _, p := range pods {
		if !podName.MatchString(p) {
			t.Errorf("pod name %q is not %s-xxxxx", p, rs.Name)
		}
	}
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			out, errOut, code := k.run(t, "get", "svc,deploy,rs,pods")
			if code != 0 {
				t.Fatalf("get svc,deploy,rs,pods: exit %d\n%s%s", code, out, errOut)
			}
			sections := strings.Split(strings.TrimSpace(out), "\n\n")
			if len(sections) != 4 {
				t.Fatalf("get svc,deploy,rs,pods: %d sections, want 4:\n%s", len(sections), out)
			}
			want := []struct {
				header string
				rows   []string // fields before AGE
			}{
				{"NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE", []string{"service/web ClusterIP 10.96.0.11 <none> 80/TCP"}},
				{"NAME READY UP-TO-DATE AVAILABLE AGE", []string{"deployment.apps/web 2/2 2 2"}},
				{"NAME DESIRED CURRENT READY AGE", []string{"replicaset.apps/" + rs.Name + " 2 2 2"}},
				{"NAME READY STATUS RESTARTS AGE", []string{
					"pod/solo 1/1 Running 0", "pod/" + pods[0] + " 1/1 Running 0", "pod/" + pods[1] + " 1/1 Running 0"}},
			}
			for i, sec := range sections {
				lines := strings.Split(sec, "\n")
				if got := strings.Join(strings.Fields(lines[0]), " "); got != want[i].header {
					t.Errorf("section %d header %q, want %q", i, got, want[i].header)
				}
				var rows []string
				for _, l := range lines[1:] {
					f := strings.Fields(l)
					rows = append(rows, strings.Join(f[:len(f)-1], " "))
				}
				if !slices.Equal(rows, want[i].rows) {
					t.Errorf("section %d rows %q, want %q", i, rows, want[i].rows)
				}
			}
			out, errOut, code = k.run(t, "get", "deploy", "web", "-o", "wide")
			if f := strings.Fields(strings.Split(out, "\n")[1]); code != 0 || len(f) != 8 || f[5] != "web" || f[6] != "sleeper" || f[7] != "app=web" {
				t.Errorf("get deploy web -o wide: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = k.run(t, "get", "pods", "-l", "app=web", "-o", "name")
			if want := "pod/" + pods[0] + "\npod/" + pods[1] + "\n"; code != 0 || out != want {
				t.Errorf("get pods -l app=web -o name: exit %d %q, want %q; %s", code, out, want, errOut)
			}
			out, errOut, code = k.run(t, "get", "pods", "--field-selector", "metadata.name=solo", "-o", "name")
			if code != 0 || out != "pod/solo\n" {
				t.Errorf("get pods --field-selector: exit %d %q %s", code, out, errOut)
			}
			out, errOut, code = k.run(t, "wait", "--for=condition=Available", "deployment/web", "--timeout=20s")
			if code != 0 || out != "deployment.apps/web condition met\n" {
				t.Errorf("wait --for=condition=Available: exit %d %q %s", code, out, errOut)
			}
			_, errOut, code = k.run(t, "get", "deploy", "nope")
			if want := `Error from server (NotFound): deployments.apps "nope" not found`; code != 1 || strings.TrimSpace(errOut) != want {
				t.Errorf("get deploy nope: exit %d, %q; want 1, %q", code, errOut, want)
			}
		})
	}
}

// lineReader delivers a command's output lines on a channel, so a test
// can wait for one with a bound.
func lineReader(r io.Reader) <-chan string {
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// waitLine reads lines until match returns true; it fails after 20s or
// at the end of the output.
func waitLine(t *testing.T, lines <-chan string, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before %s", what)
			}
			if match(l) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %s in 20s", what)
		}
	}
}

// startKubectl runs kubectl in the background; stop kills it and
// returns its stderr.
func startKubectl(t *testing.T, k kubectl, args ...string) (<-chan string, func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	args = append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.home, "cache")}, args...)
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = []string{"HOME=" + k.home, "PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := lineReader(stdout)
	stopped := false
	stop := func() string {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			for range lines {
			}
			cmd.Wait()
			cancel()
		}
		return stderr.String()
	}
	t.Cleanup(func() { stop() })
	return lines, stop
}

// startWeb serves "hello from web" on a loopback port (the pods' port:
// the embedded runtime's pods share this machine's network) until the
// test ends.
func startWeb(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from web")
	})}
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestKubectlDeleteWatchForward: kubectl get -w sees a Deployment's pod
// deleted and its replacement come; port-forward svc/web :http reaches a
// pod through the Service's named targetPort; rollout restart replaces
// every pod.
func TestKubectlDeleteWatchForward(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	port := startWeb(t)

	kc := filepath.Join(t.TempDir(), "kubeconfig")
	opts := workloadManifest(t, port)
	opts.KubeconfigPath = kc
	s, _ := startServer(t, opts)
	for _, v := range []string{"1.27", "1.33"} {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			pods := readyPods(t, s, "app%3Dweb", 2)

			lines, stopWatch := startKubectl(t, k, "get", "pods", "-l", "app=web", "-w")
			waitLine(t, lines, "the header", func(l string) bool { return strings.Join(strings.Fields(l), " ") == "NAME READY STATUS RESTARTS AGE" })
			for _, p := range pods {
				waitLine(t, lines, p+" listed", func(l string) bool { return strings.HasPrefix(l, p+" ") && strings.Contains(l, "Running") })
			}

			victim := pods[0]
			out, errOut, code := k.run(t, "delete", "pod", victim)
			if code != 0 || out != `pod "`+victim+`" deleted`+"\n" {
				t.Fatalf("delete pod: exit %d, %q %q", code, out, errOut)
			}
			after := readyPods(t, s, "app%3Dweb", 2)
			if slices.Contains(after, victim) || !slices.Contains(after, pods[1]) {
				t.Fatalf("pods after delete %v, before %v", after, pods)
			}
			repl := after[0]
			if repl == pods[1] {
				repl = after[1]
			}
			waitLine(t, lines, victim+" Terminating", func(l string) bool {
				return strings.HasPrefix(l, victim+" ") && strings.Contains(l, "Terminating")
			})
			waitLine(t, lines, repl+" ready", func(l string) bool {
				f := strings.Fields(l)
				return len(f) >= 3 && f[0] == repl && f[1] == "1/1" && f[2] == "Running"
			})
			if errOut := stopWatch(); errOut != "" {
				t.Errorf("get -w stderr: %s", errOut)
			}

			fwd, stopFwd := startKubectl(t, k, "port-forward", "--address", "127.0.0.1", "svc/web", ":http")
			l := waitLine(t, fwd, "Forwarding from", func(l string) bool { return strings.HasPrefix(l, "Forwarding from 127.0.0.1:") })
			m := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$`).FindStringSubmatch(l)
			if m == nil || m[2] != strconv.Itoa(port) {
				t.Fatalf("forwarding line %q, want -> %d", l, port)
			}
			resp, err := http.Get("http://127.0.0.1:" + m[1] + "/")
			if err != nil {
				t.Fatalf("GET through svc/web: %v; kubectl: %s", err, stopFwd())
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "hello from web" {
				t.Errorf("GET through svc/web: %d %q", resp.StatusCode, body)
			}
			stopFwd()

			// kubectl stamps the restart to the second, and refuses a
			// restart in the second of the last one (the other release's).
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
			out, errOut, code = k.run(t, "rollout", "restart", "deploy/web")
			if code != 0 || out != "deployment.apps/web restarted\n" {
				t.Fatalf("rollout restart: exit %d, %q %q", code, out, errOut)
			}
			out, errOut, code = k.run(t, "rollout", "status", "deploy/web", "--timeout=30s")
			if code != 0 || !strings.HasSuffix(out, "deployment \"web\" successfully rolled out\n") {
				t.Fatalf("rollout status: exit %d, %q %q", code, out, errOut)
			}
			for {
				now := readyPods(t, s, "app%3Dweb", 2)
				if !slices.Contains(now, after[0]) && !slices.Contains(now, after[1]) {
					break
				}
				time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
			}
			out, errOut, code = k.run(t, "get", "pods", "solo", "-o", "name")
			if code != 0 || out != "pod/solo\n" {
				t.Errorf("the bare pod after the rollout: exit %d %q %s", code, out, errOut)
			}
		})
	}
	// A bare pod deleted is gone for good.
	k := kubectl{bin: kubectlBin(t, "1.33"), kubeconfig: kc, home: t.TempDir()}
	if out, errOut, code := k.run(t, "delete", "pod", "solo", "--grace-period=0", "--force"); code != 0 || !strings.Contains(out, `pod "solo" force deleted`) {
		t.Fatalf("delete solo: exit %d %q %q", code, out, errOut)
	}
	if _, errOut, code := k.run(t, "get", "pod", "solo"); code != 1 || !strings.Contains(errOut, `pods "solo" not found`) {
		t.Errorf("get solo after delete: exit %d %q", code, errOut)
	}
}

// TestKubectlReadyRestarts: kubectl's READY column follows an exec
// readiness probe, and RESTARTS counts a container restarted by its
// policy.
func TestKubectlReadyRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	dir := t.TempDir()
	flag, crashed := filepath.Join(dir, "ready"), filepath.Join(dir, "crashed")
	objs, err := kube.Decode(strings.NewReader(fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: c
    command: [sleep, infinity]
    readinessProbe: {exec: {command: [test, -f, %q]}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: flaky}
spec:
  containers:
  - name: c
    command: [sh, -c, 'if [ -f %q ]; then exec sleep infinity; fi; touch %q; exit 1']
`, flag, crashed, crashed)), "pods.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	s, _ := startServer(t, Options{Pods: objs.Pods, KubeconfigPath: kc})
	k := kubectl{bin: kubectlBin(t, "1.33"), kubeconfig: kc, home: t.TempDir()}
	row := func(name string) []string {
		out, errOut, code := k.run(t, "get", "pod", name, "--no-headers")
		if code != 0 {
			t.Fatalf("get pod %s: exit %d %s", name, code, errOut)
		}
		return strings.Fields(out)
	}
	// Running but not ready: the probe fails.
	for {
		var p kube.Pod
		getJSON(t, s, "/api/v1/namespaces/default/pods/probed", &p)
		if p.Status.Phase == "Running" {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
	}
	if f := row("probed"); f[1] != "0/1" || f[2] != "Running" {
		t.Errorf("probed before the file: %q, want 0/1 Running", f)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for f := row("probed"); f[1] != "1/1"; f = row("probed") {
		time.Sleep(100 * time.Millisecond) // polling a state, not ordering events
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	for f := row("probed"); f[1] != "0/1"; f = row("probed") {
		time.Sleep(100 * time.Millisecond) // polling a state, not ordering events
	}
	// flaky fails once, is restarted after the back-off and then runs.
	for f := row("flaky"); f[1] != "1/1" || f[2] != "Running"; f = row("flaky") {
		time.Sleep(100 * time.Millisecond) // polling a state, not ordering events
	}
	if f := row("flaky"); f[3] != "1" || !strings.HasPrefix(f[4], "(") || f[5] != "ago)" {
		t.Errorf("flaky: %q, want RESTARTS 1 (Ns ago)", f)
	}
}

// TestKubectlDeleteGrace: kubectl delete --grace-period=1, or a pod's own
// terminationGracePeriodSeconds of 1 when kubectl names none, gives a
// process that ignores SIGTERM a second before it is killed, and kubectl's
// wait ends when it is gone.
func TestKubectlDeleteGrace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	for _, tt := range []struct {
		name, spec string
		args       []string
	}{
		{"flag", "", []string{"--grace-period=1"}},
		{"spec", "terminationGracePeriodSeconds: 1", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := kube.Decode(strings.NewReader(`
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  `+tt.spec+`
  containers:
  - {name: c, command: [sh, -c, 'trap "" TERM; while :; do sleep 0.1; done']}
`), "pod.yaml")
			if err != nil {
				t.Fatal(err)
			}
			kc := filepath.Join(t.TempDir(), "kubeconfig")
			s, _ := startServer(t, Options{Pods: objs.Pods, KubeconfigPath: kc})
			for {
				var p kube.Pod
				getJSON(t, s, "/api/v1/namespaces/default/pods/stubborn", &p)
				if p.Status.Phase == "Running" {
					break
				}
				time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
			}
			// The pod's deletion as the server tells it, timed where it
			// happens (kubectl's own start is not the server's doing).
			resp, err := http.Get(s.URL() + "/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%3Dstubborn&timeoutSeconds=60")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			type event struct {
				typ  string
				pod  kube.Pod
				when time.Time
			}
			events := make(chan event, 16)
			go func() {
				defer close(events)
				dec := json.NewDecoder(resp.Body)
				for {
					var e struct {
						Type   string
						Object kube.Pod
					}
					if dec.Decode(&e) != nil {
						return
					}
					events <- event{e.Type, e.Object, time.Now()}
				}
			}()
			k := kubectl{bin: kubectlBin(t, "1.33"), kubeconfig: kc, home: t.TempDir()}
			out, errOut, code := k.run(t, append([]string{"delete", "pod", "stubborn"}, tt.args...)...)
			if code != 0 || out != "pod \"stubborn\" deleted\n" {
				t.Fatalf("delete: exit %d %q %q", code, out, errOut)
			}
			var marked time.Time
			for e := range events {
				switch {
				case e.typ == "MODIFIED" && e.pod.DeletionTimestamp != "" && marked.IsZero():
					marked = e.when
					if g := e.pod.DeletionGracePeriodSeconds; g == nil || *g != 1 {
						t.Errorf("marked with a grace of %v, want 1", g)
					}
				case e.typ == "DELETED":
					// Between the grace and the runtime's own KillGrace
					// (5s), which a grace period not passed on would take;
					// the default grace is 30s.
					if took := e.when.Sub(marked); marked.IsZero() || took < 900*time.Millisecond || took > 4*time.Second {
						t.Errorf("gone %s after marked (at %v), want the grace of 1s and little more", took, marked)
					}
					resp.Body.Close()
				}
			}
			if marked.IsZero() {
				t.Error("the watch saw no deletion")
			}
			if code, _ := get(t, s.URL()+"/api/v1/namespaces/default/pods/stubborn"); code != 404 {
				t.Errorf("after delete: GET %d, want 404", code)
			}
		})
	}
}

// TestKubectlScale: kubectl scale, with every kubectl, sets a Deployment's
// replicas through its scale subresource, and the pods follow; its
// preconditions (--current-replicas, --resource-version) are checked
// against the Deployment as it is.
func TestKubectlScale(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	s, kc, _ := startWorkloads(t)
	replicas := 2
	for i, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			next := 1 + i%3
			if next == replicas {
				next++
			}
			out, errOut, code := k.run(t, "scale", "deployment/web", fmt.Sprintf("--replicas=%d", next), fmt.Sprintf("--current-replicas=%d", replicas))
			if code != 0 || out != "deployment.apps/web scaled\n" {
				t.Fatalf("scale to %d: exit %d %q %s", next, code, out, errOut)
			}
			replicas = next
			readyPods(t, s, "app%3Dweb", replicas)
			_, errOut, code = k.run(t, "scale", "deployment/web", "--replicas=1", "--current-replicas=7")
			if want := fmt.Sprintf("error: Expected replicas to be 7, was %d", replicas); code != 1 || strings.TrimSpace(errOut) != want {
				t.Errorf("scale with a wrong --current-replicas: exit %d %q, want %q", code, errOut, want)
			}
			var sc kube.Scale
			getJSON(t, s, "/apis/apps/v1/namespaces/default/deployments/web/scale", &sc)
			if sc.Kind != "Scale" || sc.APIVersion != "autoscaling/v1" || sc.Spec.Replicas != int32(replicas) ||
				sc.Status.Replicas != int32(replicas) || sc.Status.Selector != "app=web" {
				t.Errorf("scale: %+v", sc)
			}
		})
	}
}

// TestKubectlRollout: kubectl rollout undo (a JSON patch), pause and
// resume, set image and set env (strategic merge patches), with every
// kubectl: a paused Deployment holds a new template until resumed, a
// container patched keeps what the patch does not name, and undo brings
// the previous template back.
func TestKubectlRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	s, kc, _ := startWorkloads(t)
	image := func() string {
		var d kube.Deployment
		getJSON(t, s, "/apis/apps/v1/namespaces/default/deployments/web", &d)
		return d.Spec.Template.Spec.Containers[0].Image
	}
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			run := func(want string, args ...string) { t.Helper(); k.expect(t, want, args...) }
			before := image()
			run("deployment.apps/web paused\n", "rollout", "pause", "deployment/web")
			run("deployment.apps/web image updated\n", "set", "image", "deployment/web", "web=img-"+v)
			pods := readyPods(t, s, "app%3Dweb", 2)
			var d kube.Deployment
			getJSON(t, s, "/apis/apps/v1/namespaces/default/deployments/web", &d)
			if d.Status.UpdatedReplicas != 0 || len(d.Status.Conditions) != 2 || d.Status.Conditions[1].Reason != "DeploymentPaused" {
				t.Errorf("paused with a new template: %+v", d.Status)
			}
			// set image's strategic merge patch names the container and
			// its image only: the rest of the container stays.
			run("deployment.apps/web env updated\n", "set", "env", "deployment/web", "VERSION="+v)
			getJSON(t, s, "/apis/apps/v1/namespaces/default/deployments/web", &d)
			if c := d.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Image != "img-"+v || !slices.Equal(c[0].Command, []string{"sleep", "infinity"}) ||
				len(c[0].Ports) != 1 || c[0].Ports[0].Name != "http" || len(c[0].Env) != 1 || c[0].Env[0] != (kube.EnvVar{Name: "VERSION", Value: v}) {
				t.Errorf("after set image and set env: containers %+v", c)
			}
			run("deployment.apps/web resumed\n", "rollout", "resume", "deployment/web")
			run(`deployment "web" successfully rolled out`+"\n", "rollout", "status", "deployment/web", "--timeout=30s")
			if now := readyPods(t, s, "app%3Dweb", 2); slices.Equal(now, pods) {
				t.Errorf("resumed: the pods %v stayed", now)
			}
			run("deployment.apps/web rolled back\n", "rollout", "undo", "deployment/web")
			if got := image(); got != before {
				t.Errorf("after undo: image %q, want %q", got, before)
			}
			run(`deployment "web" successfully rolled out`+"\n", "rollout", "status", "deployment/web", "--timeout=30s")
		})
	}
}

// TestKubectlRolloutDeadline: a rollout whose pods never get ready fails
// kubectl rollout status once its progress deadline passes, as on a
// cluster, and rolling back completes it.
func TestKubectlRolloutDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	s, kc, pods := startWorkloads(t)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			never := `{"spec":{"progressDeadlineSeconds":1,"template":{"spec":{"containers":[{"name":"web","readinessProbe":{"exec":{"command":["false"]},"periodSeconds":1}}]}}}}`
			if out, errOut, code := k.run(t, "patch", "deployment/web", "-p", never); code != 0 || out != "deployment.apps/web patched\n" {
				t.Fatalf("patch: exit %d %q %s", code, out, errOut)
			}
			out, errOut, code := k.run(t, "rollout", "status", "deployment/web", "--timeout=30s")
			if code != 1 || !strings.HasSuffix(errOut, `error: deployment "web" exceeded its progress deadline`+"\n") {
				t.Errorf("rollout status of a stuck rollout: exit %d %q %q, want 1 and the deadline", code, out, errOut)
			}
			var l kube.PodList
			getJSON(t, s, "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb", &l)
			var ready, unready []string
			for _, p := range l.Items {
				if p.IsReady() {
					ready = append(ready, p.Name)
				} else {
					unready = append(unready, p.Name)
				}
			}
			slices.Sort(ready)
			// The default bounds for two pods: one over (25%, rounded up),
			// none under (rounded down).
			if !slices.Equal(ready, pods) || len(unready) != 1 {
				t.Errorf("ready pods %v and not ready %v, want the old ones %v serving on beside one new", ready, unready, pods)
			}
			if out, errOut, code := k.run(t, "rollout", "undo", "deployment/web"); code != 0 || out != "deployment.apps/web rolled back\n" {
				t.Fatalf("undo: exit %d %q %s", code, out, errOut)
			}
			if out, errOut, code := k.run(t, "rollout", "status", "deployment/web", "--timeout=30s"); code != 0 || out != `deployment "web" successfully rolled out`+"\n" {
				t.Errorf("rollout status after undo: exit %d %q %s", code, out, errOut)
			}
		})
	}
}

// TestKubectlClusterInfoDump: kubectl cluster-info dump, which lists every
// kind a cluster's workloads are made of (ReplicationControllers and
// DaemonSets, which serve never has, among them) and each container's
// log, completes.
func TestKubectlClusterInfoDump(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	_, kc, pods := startWorkloads(t)
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			out, errOut, code := k.run(t, "cluster-info", "dump")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, want := range []string{`"kind": "NodeList"`, `"kind": "ReplicationControllerList"`, `"kind": "DaemonSetList"`,
				"==== START logs for container web of pod default/" + pods[0] + " ====",
				"==== START logs for container web of pod default/" + pods[1] + " ===="} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in the dump", want)
				}
			}
		})
	}
}

// TestKubectlCreateExposeDelete: the first-day workload commands on every
// kubectl: create deployment (kubectl 1.32 and later send it in
// protobuf), expose it, forward to the Service, and delete both, the
// Deployment's pods and ReplicaSet going as --cascade says.
func TestKubectlCreateExposeDelete(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	port := strconv.Itoa(startWeb(t))

	kc := filepath.Join(t.TempDir(), "kubeconfig")
	s, _ := startServer(t, Options{KubeconfigPath: kc})
	waitDemo(t, s)
	count := func(path string) int {
		var l struct{ Items []json.RawMessage }
		getJSON(t, s, path, &l)
		return len(l.Items)
	}
	for i, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			run := func(want string, args ...string) { t.Helper(); k.expect(t, want, args...) }
			name := "app-" + strings.ReplaceAll(v, ".", "")
			pods, sets := "/api/v1/namespaces/default/pods?labelSelector=app%3D"+name, "/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3D"+name
			run("deployment.apps/"+name+" created\n", "create", "deployment", name, "--image=busybox", "--replicas=2", "--port="+port)
			run(`deployment "`+name+`" successfully rolled out`+"\n", "rollout", "status", "deployment/"+name, "--timeout=30s")
			run("service/"+name+" exposed\n", "expose", "deployment", name, "--port=80", "--target-port="+port)

			fwd, stopFwd := startKubectl(t, k, "port-forward", "--address", "127.0.0.1", "svc/"+name, ":80")
			l := waitLine(t, fwd, "Forwarding from", func(l string) bool { return strings.HasPrefix(l, "Forwarding from 127.0.0.1:") })
			m := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$`).FindStringSubmatch(l)
			if m == nil || m[2] != port {
				t.Fatalf("forwarding line %q, want -> %s", l, port)
			}
			resp, err := http.Get("http://127.0.0.1:" + m[1] + "/")
			if err != nil {
				t.Fatalf("GET through svc/%s: %v; kubectl: %s", name, err, stopFwd())
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "hello from web" {
				t.Errorf("GET through svc/%s: %d %q", name, resp.StatusCode, body)
			}
			stopFwd()
			run(`service "`+name+`" deleted`+"\n", "delete", "service", name)

			cascade := []string{"background", "foreground", "orphan"}[i%3]
			run(`deployment.apps "`+name+`" deleted`+"\n", "delete", "deployment", name, "--cascade="+cascade)
			if cascade == "orphan" {
				var l kube.ReplicaSetList
				getJSON(t, s, sets, &l)
				if len(l.Items) != 1 || len(l.Items[0].OwnerReferences) != 0 || count(pods) != 2 {
					t.Fatalf("orphaned: ReplicaSets %+v and %d pods, want one ownerless ReplicaSet keeping its two pods", l.Items, count(pods))
				}
				run(`replicaset.apps "`+l.Items[0].Name+`" deleted`+"\n", "delete", "replicaset", "-l", "app="+name)
			}
			for count(pods)+count(sets) > 0 {
				time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
			}
			if out, errOut, code := k.run(t, "get", "deployment", name); code != 1 || !strings.Contains(errOut, `deployments.apps "`+name+`" not found`) {
				t.Errorf("get after delete: exit %d %q %q", code, out, errOut)
			}
		})
	}
	k := kubectl{bin: kubectlBin(t, "1.33"), kubeconfig: kc, home: t.TempDir()}
	if out, errOut, code := k.run(t, "create", "deployment", "dry", "--image=busybox", "--dry-run=server"); code != 0 || out != "deployment.apps/dry created (server dry run)\n" {
		t.Errorf("a server dry run: exit %d %q %q", code, out, errOut)
	}
	if out, errOut, code := k.run(t, "get", "deployment", "dry"); code != 1 || !strings.Contains(errOut, `deployments.apps "dry" not found`) {
		t.Errorf("after a server dry run: exit %d %q %q, want nothing made", code, out, errOut)
	}
}

// TestKubectlApply: kubectl apply -f of a Deployment and a Service, on
// every kubectl: created (validated by the server, which the OpenAPI
// documents say it does: kubectl 1.27 and 1.28 read v2 in protobuf, the
// later ones v3), unchanged when applied again, configured when changed
// (kubectl's three-way strategic merge patches; fields porthole does not
// model, such as resource limits, are kept and served back, so the same
// manifest again is unchanged); kubectl diff shows what would change (by
// the server's dry run);
// kubectl label takes a pod out of its ReplicaSet, which replaces it;
// kubectl replace puts the first manifest back whole; and all is gone
// with delete -f.
func TestKubectlApply(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real kubectl binaries")
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	s, _ := startServer(t, Options{KubeconfigPath: kc})
	waitDemo(t, s)
	manifest := func(name string, replicas, port int, extra bool) string {
		container, service := "", ""
		if extra { // fields porthole does not model
			container, service = ", securityContext: {runAsUser: 1000}", "publishNotReadyAddresses: true"
		}
		f := filepath.Join(t.TempDir(), name+".yaml")
		err := os.WriteFile(f, []byte(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - {name: web, image: busybox, command: [sleep, infinity], ports: [{name: http, containerPort: 8080}]%[4]s}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  %[5]s
  selector: {app: %[1]s}
  ports: [{name: http, port: %[3]d, targetPort: http}]
`, name, replicas, port, container, service)), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			k := kubectl{bin: kubectlBin(t, v), kubeconfig: kc, home: t.TempDir()}
			run := func(want string, args ...string) { t.Helper(); k.expect(t, want, args...) }
			name := "apply-" + strings.ReplaceAll(v, ".", "")
			first, second := manifest(name, 1, 80, false), manifest(name, 2, 81, true)
			run("deployment.apps/"+name+" created\nservice/"+name+" created\n", "apply", "-f", first)
			run("deployment.apps/"+name+" unchanged\nservice/"+name+" unchanged\n", "apply", "-f", first)
			run("deployment.apps/"+name+" configured\nservice/"+name+" configured\n", "apply", "-f", second)
			run(`deployment "`+name+`" successfully rolled out`+"\n", "rollout", "status", "deployment/"+name, "--timeout=30s")
			// The fields porthole does not model are kept, as the API server
			// keeps them: served back, and the same manifest again is
			// unchanged.
			var before, after kube.Deployment
			getJSON(t, s, "/apis/apps/v1/namespaces/default/deployments/"+name, &before)
			run("deployment.apps/"+name+" unchanged\nservice/"+name+" unchanged\n", "apply", "-f", second)
			getJSON(t, s, "/apis/apps/v1/namespaces/default/deployments/"+name, &after)
			if after.Generation != before.Generation || after.ResourceVersion != before.ResourceVersion {
				t.Errorf("applied again: generation %d, resourceVersion %s; before %d, %s", after.Generation, after.ResourceVersion,
					before.Generation, before.ResourceVersion)
			}
			run("1000", "get", "deployment", name, "-o", "jsonpath={.spec.template.spec.containers[0].securityContext.runAsUser}")
			run("true", "get", "service", name, "-o", "jsonpath={.spec.publishNotReadyAddresses}")
			var svc kube.Service
			getJSON(t, s, "/api/v1/namespaces/default/services/"+name, &svc)
			if p := svc.Spec.Ports; len(p) != 1 || p[0].Port != 81 || p[0].Name != "http" || p[0].TargetPort.String() != "http" ||
				svc.Annotations["kubectl.kubernetes.io/last-applied-configuration"] == "" {
				t.Errorf("the Service applied again: %+v %v", svc.Spec, svc.Annotations)
			}
			// kubectl diff asks the server what apply would make (dryRun=All).
			if out, errOut, code := k.run(t, "diff", "-f", first); code != 1 || !strings.Contains(out, "\n-  replicas: 2\n+  replicas: 1\n") ||
				!strings.Contains(out, "\n-    port: 81\n+    port: 80\n") {
				t.Errorf("diff with the first manifest: exit %d %q %q, want the replicas and port back", code, out, errOut)
			}
			if out, errOut, code := k.run(t, "diff", "-f", second); code != 0 || out != "" {
				t.Errorf("diff with the applied manifest: exit %d %q %q, want none", code, out, errOut)
			}
			run("service/"+name+" labeled\n", "label", "service", name, "tier=front")
			// A pod relabelled out of its ReplicaSet is let go and replaced.
			pods := readyPods(t, s, "app%3D"+name, 2)
			run("pod/"+pods[0]+" labeled\n", "label", "pod", pods[0], "app=quarantine", "--overwrite")
			if now := readyPods(t, s, "app%3D"+name, 2); slices.Contains(now, pods[0]) || !slices.Contains(now, pods[1]) {
				t.Errorf("pods after the relabel %v, before %v", now, pods)
			}
			var p kube.Pod
			getJSON(t, s, "/api/v1/namespaces/default/pods/"+pods[0], &p)
			if p.Labels["app"] != "quarantine" || len(p.OwnerReferences) != 0 || p.Status.Phase != "Running" {
				t.Errorf("the relabelled pod: labels %v, owners %v, %s", p.Labels, p.OwnerReferences, p.Status.Phase)
			}
			if out, errOut, code := k.run(t, "patch", "pod", pods[0], "-p", `{"spec":{"restartPolicy":"Never"}}`); code != 1 || !strings.Contains(errOut, "spec: Forbidden: pod updates may not change fields other than") {
				t.Errorf("a pod's spec patched: exit %d %q %q", code, out, errOut)
			}
			run(`pod "`+pods[0]+`" deleted`+"\n", "delete", "pod", pods[0], "--grace-period=1")
			// kubectl replace PUTs the objects whole.
			run("deployment.apps/"+name+" scaled (server dry run)\n", "scale", "deployment", name, "--replicas=5", "--dry-run=server")
			run("deployment.apps/"+name+" replaced\nservice/"+name+" replaced\n", "replace", "-f", first)
			var d kube.Deployment
			getJSON(t, s, "/apis/apps/v1/namespaces/default/deployments/"+name, &d)
			getJSON(t, s, "/api/v1/namespaces/default/services/"+name, &svc)
			if *d.Spec.Replicas != 1 || svc.Spec.Ports[0].Port != 80 || svc.Labels["tier"] != "" || d.Unmodeled != nil || svc.Unmodeled != nil {
				t.Errorf("replaced: replicas %d, ports %+v, labels %v, unmodeled %v %v", *d.Spec.Replicas, svc.Spec.Ports, svc.Labels, d.Unmodeled, svc.Unmodeled)
			}
			run(`deployment.apps "`+name+`" deleted`+"\n"+`service "`+name+`" deleted`+"\n", "delete", "-f", first)
			readyPods(t, s, "app%3D"+name, 0)
		})
	}
}
