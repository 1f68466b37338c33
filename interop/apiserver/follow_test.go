package apiserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/porthole/porthole/interop/internal/harness"
)

// followTimeout bounds how long a forward may take to reach a replacement
// pod once it runs: the watch delivers the change at once, so this is
// slack for a loaded machine, not the expected time.
const followTimeout = 60 * time.Second

// TestPortForwardFollows: porthole's port-forward to a Service keeps its
// local port when the pod behind it is deleted, says so once, and new
// connections reach the replacement pod (created here, as the ReplicaSet
// controller would) through the Service's named targetPort; a connection
// open on the old pod ends cleanly. A pod target follows a pod of the same
// name that comes back (a new UID). kubectl ends its forward instead; that
// is the gap this closes. Both wires, through the real API server.
func TestPortForwardFollows(t *testing.T) {
	n := env.nodes[0]
	ensureServiceAccount(t)
	k := env.kubectls[len(env.kubectls)-1]
	for _, proto := range []string{"websocket", "spdy"} {
		c := direct(k, k.Wires()[0], n, t.TempDir())
		c.porthole = true
		t.Run(proto, func(t *testing.T) {
			t.Run("service", func(t *testing.T) { followService(t, c, n, proto, "follow-"+proto) })
			t.Run("pod", func(t *testing.T) { followPod(t, c, n, proto, "follow-"+proto+"-p") })
			t.Run("exec", func(t *testing.T) { followExec(t, c, n, proto, "follow-"+proto+"-x") })
			// A user whose role may list pods but not watch them: the
			// forward lists them every second instead.
			t.Run("no-watch", func(t *testing.T) {
				pf := followService(t, c, n, proto, "follow-"+proto+"-l", "--as", noWatchUser(t), "-v=1")
				if s := "the server cannot watch pods"; !strings.Contains(pf.Stderr.String(), s) {
					t.Errorf("stderr lacks %q: %q", s, pf.Stderr.Tail())
				}
			})
		})
	}
}

func followService(t *testing.T, c *kc, n *node, proto, name string, extra ...string) portForward {
	ctx := t.Context()
	port := freePort(t)
	labels := map[string]string{"app": name}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Selector: labels,
		Ports: []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("http")}}}}
	cs := env.cp.Admin
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{}) })
	a, b := name+"-a", name+"-b"
	createWebPod(t, n, a, labels, port)
	pf := startPortForward(t, c, proto, "svc/"+name, ":web", extra...)
	pf.awaitBody(t, a)

	// A connection open on the old pod, one request answered.
	open, err := net.Dial("tcp", pf.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	br := bufio.NewReader(open)
	if body := keepAliveGet(t, open, br); body != a+"\n" {
		t.Fatalf("keep-alive request: %q, want %q", body, a)
	}

	deletePod(t, a, port)
	// The open connection ends with its pod: EOF, not a hang.
	_ = open.SetReadDeadline(time.Now().Add(followTimeout))
	if rest, err := io.ReadAll(br); err != nil {
		t.Errorf("connection open on the deleted pod: %v after %q, want a clean EOF", err, rest)
	}
	createWebPod(t, n, b, labels, port)
	pf.awaitBody(t, b)
	pf.checkSwitch(t, a, b)
	return pf
}

func followPod(t *testing.T, c *kc, n *node, proto, name string) {
	port := freePort(t)
	labels := map[string]string{"app": name}
	createWebPod(t, n, name, labels, port)
	pf := startPortForward(t, c, proto, "pod/"+name, fmt.Sprintf(":%d", port))
	pf.awaitBody(t, name)
	deletePod(t, name, port)
	createWebPodSaying(t, n, name, labels, port, name+" again")
	pf.awaitBody(t, name+" again")
	pf.checkSwitch(t, name, name)
}

// followExec: --exec's command keeps its forward across the switch: it
// reads the first pod's answer, then polls the same local port until the
// replacement answers, and its exit code is porthole's.
func followExec(t *testing.T, c *kc, n *node, proto, name string) {
	ctx := t.Context()
	port := freePort(t)
	labels := map[string]string{"app": name}
	a, b := name+"-a", name+"-b"
	createWebPod(t, n, a, labels, port)
	script := `curl -s --max-time 5 http://127.0.0.1:$PORTHOLE_PORT/ && ` +
		`until [ "$(curl -s --max-time 2 http://127.0.0.1:$PORTHOLE_PORT/)" = "` + b + `" ]; do sleep 0.2; done && echo switched`
	cctx, cancel := context.WithTimeout(ctx, 2*followTimeout)
	defer cancel()
	pf := &harness.Forward{Stdout: &harness.SyncBuffer{}, Stderr: &harness.SyncBuffer{}}
	cmd := c.command(cctx, c.admin, "port-forward", "--protocol", proto, "--address", "127.0.0.1", "svc/"+name, ":web", "--exec", script)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Selector: labels,
		Ports: []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("http")}}}}
	if _, err := env.cp.Admin.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.cp.Admin.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	cmd.Stdout, cmd.Stderr = pf.Stdout, pf.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(followTimeout)
	for !strings.Contains(pf.Stdout.String(), a+"\n") {
		if time.Now().After(deadline) {
			t.Fatalf("--exec never read %s: stdout %q, stderr %q", a, pf.Stdout.Tail(), pf.Stderr.Tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	deletePod(t, a, port)
	createWebPod(t, n, b, labels, port)
	if err := <-done; err != nil {
		t.Fatalf("--exec: %v; stdout %q, stderr %q", err, pf.Stdout.Tail(), pf.Stderr.Tail())
	}
	if got := pf.Stdout.String(); got != a+"\nswitched\n" {
		t.Errorf("--exec's stdout %q, want %q", got, a+"\nswitched\n")
	}
}

// portForward is a running `porthole port-forward`.
type portForward struct{ *harness.Forward }

func startPortForward(t *testing.T, c *kc, proto, target, port string, extra ...string) portForward {
	t.Helper()
	args := append([]string{"port-forward", "--protocol", proto, "--address", "127.0.0.1", target, port}, extra...)
	return portForward{harness.StartForward(t, c.command(t.Context(), c.admin, args...))}
}

// awaitBody GETs / through the forward until the answer is want (a pod's
// name): other answers and failures are allowed only while the forward is
// switching, and only for followTimeout.
func (pf portForward) awaitBody(t *testing.T, want string) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(followTimeout)
	last := ""
	for {
		resp, err := hc.Get("http://" + pf.Addr + "/")
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && string(b) == want+"\n" {
				return
			}
			last = fmt.Sprintf("%s %q %v", resp.Status, b, rerr)
		} else {
			last = err.Error()
		}
		select {
		case <-pf.Done:
			t.Fatalf("port-forward exited: stderr %q", pf.Stderr.Tail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s within %v (last: %s); stdout %q, stderr %q", want, followTimeout, last, pf.Stdout.Tail(), pf.Stderr.Tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkSwitch: the forward said once that old went away, and that it now
// forwards to next. It said both before next answered, but its output
// reaches the buffers through os/exec's copying goroutines, which may not
// have run yet.
func (pf portForward) checkSwitch(t *testing.T, old, next string) {
	t.Helper()
	gone := fmt.Sprintf("pod %s is gone (", old)
	if s := "forwarding to pod " + next + "\n"; !pf.Stdout.Await(s, cmdTimeout) {
		t.Errorf("stdout lacks %q: %q; stderr %q", s, pf.Stdout.Tail(), pf.Stderr.Tail())
	}
	pf.Stderr.Await(gone, cmdTimeout)
	if n := strings.Count(pf.Stderr.String(), gone); n != 1 {
		t.Errorf("stderr says %q %d times, want once: %q", gone, n, pf.Stderr.Tail())
	}
}

func keepAliveGet(t *testing.T, conn net.Conn, br *bufio.Reader) string {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: pod\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Time{})
	return string(b)
}

func createWebPod(t *testing.T, n *node, name string, labels map[string]string, port int) {
	createWebPodSaying(t, n, name, labels, port, name)
}

// createWebPodSaying runs porthole's demo web server in a pod on n,
// answering say on 127.0.0.1:port, its container port "http".
func createWebPodSaying(t *testing.T, n *node, name string, labels map[string]string, port int, say string) {
	t.Helper()
	ctx := t.Context()
	no := false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: n.name, AutomountServiceAccountToken: &no, Containers: []corev1.Container{{
			Name: "web", Image: "local",
			Command: []string{env.porthole, "demo-web", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--say", say},
			Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}}}}
	if _, err := env.cp.Admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		_ = env.cp.Admin.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	if _, err := env.cp.AwaitPodRunning(ctx, "default", name); err != nil {
		t.Fatalf("%v\nnode log:\n%s", err, n.logTail(4096))
	}
}

// deletePod deletes a pod at once and waits until the API server has
// forgotten it and its node has stopped it (nothing listens on its port).
func deletePod(t *testing.T, name string, port int) {
	t.Helper()
	ctx := t.Context()
	pods := env.cp.Admin.CoreV1().Pods("default")
	zero := int64(0)
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(followTimeout)
	for {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			c, derr := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if derr != nil {
				return
			}
			c.Close()
			err = fmt.Errorf("port %d still open", port)
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s still there after delete: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noWatchUser is a user allowed to read pods and Services and to
// port-forward, but not to watch pods.
func noWatchUser(t *testing.T) string {
	t.Helper()
	const user = "follow-no-watch"
	ctx := t.Context()
	rb := env.cp.Admin.RbacV1()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"create", "get"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: user},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}}}
	if _, err := rb.Roles("default").Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := rb.RoleBindings("default").Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return user
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
