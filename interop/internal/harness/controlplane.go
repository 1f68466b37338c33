package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeVersion is the Kubernetes release the control plane is built from
// (interop/controlplane/go.mod), stamped into its binary.
const KubeVersion = "v1.37.2"

// Tokens of the control plane's token file: AdminToken is in
// system:masters; LimitedToken is user "limited", whom SetupRBAC lets read
// pods and nothing else.
const (
	AdminToken   = "interop-admin-token"
	LimitedToken = "interop-limited-token"
	LimitedUser  = "limited"
)

// BuildControlPlane builds interop/controlplane (etcd and kube-apiserver in
// one binary, from k8s.io/kubernetes KubeVersion) into dir. It is a module
// of its own; the shared GOCACHE makes a repeat build a link.
func BuildControlPlane(ctx context.Context, dir string) (string, error) {
	interop, _, err := Roots()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "controlplane")
	ld := "-ldflags=-X k8s.io/component-base/version.gitVersion=" + KubeVersion +
		" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" +
		" -X k8s.io/component-base/version.gitTreeState=clean"
	if err := goBuild(ctx, filepath.Join(interop, "controlplane"), out, ld, "."); err != nil {
		return "", fmt.Errorf("build controlplane: %w", err)
	}
	return out, nil
}

// ControlPlane is a running etcd and kube-apiserver on loopback: TLS from
// CA, tokens (AdminToken, LimitedToken), client certificates from CA,
// Node and RBAC authorization with NodeRestriction, and a kubelet client
// certificate from CA (so a node trusting CA for clients lets it in).
type ControlPlane struct {
	URL string
	// Gates are the API server's streaming feature gates as it runs them.
	Gates  map[string]bool
	CA     *CA
	Admin  *kubernetes.Clientset
	Config *rest.Config // admin

	dir     string
	cmd     *exec.Cmd
	group   *ProcGroup
	stdin   io.WriteCloser
	logPath string
	exited  chan struct{}
	waitErr error
}

// StartControlPlane runs bin (BuildControlPlane) with its files in dir and
// waits until the API server is ready. The caller must Stop it.
func StartControlPlane(ctx context.Context, bin, dir string) (*ControlPlane, error) {
	ca, err := NewCA(dir, "ca")
	if err != nil {
		return nil, err
	}
	serving, err := ca.Issue("apiserver", true, "kube-apiserver")
	if err != nil {
		return nil, err
	}
	kubeletClient, err := ca.Issue("apiserver-kubelet-client", false, "kube-apiserver-kubelet-client", "system:masters")
	if err != nil {
		return nil, err
	}
	saKey, err := ca.Issue("service-accounts", false, "service-accounts")
	if err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(AdminToken+",admin,admin-uid,system:masters\n"+
		LimitedToken+","+LimitedUser+","+LimitedUser+"-uid\n"), 0o600); err != nil {
		return nil, err
	}
	cp := &ControlPlane{CA: ca, dir: dir, logPath: filepath.Join(dir, "controlplane.log"), exited: make(chan struct{})}
	logf, err := os.Create(cp.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cp.cmd = exec.Command(bin, "-data", filepath.Join(dir, "data"), "--",
		"--cert-dir="+filepath.Join(dir, "apiserver"),
		"--tls-cert-file="+serving.CertFile, "--tls-private-key-file="+serving.KeyFile,
		"--client-ca-file="+ca.CertFile,
		"--token-auth-file="+tokens,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate="+kubeletClient.CertFile, "--kubelet-client-key="+kubeletClient.KeyFile,
		"--kubelet-certificate-authority="+ca.CertFile,
		"--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+saKey.KeyFile,
		"--service-account-signing-key-file="+saKey.KeyFile,
		"--service-cluster-ip-range=10.96.0.0/24",
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
	)
	cp.cmd.Stderr = logf
	out, err := cp.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// Its stdin is a pipe we hold: if this process dies, the control plane
	// reads EOF and stops too.
	if cp.stdin, err = cp.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	cp.cmd.SysProcAttr = OwnGroup()
	if err := startHeld(cp.cmd, cp.exited); err != nil {
		return nil, fmt.Errorf("start controlplane: %w", err)
	}
	cp.group = NewProcGroup(cp.cmd)
	urls := make(chan string, 1)
	cp.Gates = map[string]bool{}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if g, ok := strings.CutPrefix(sc.Text(), "gate "); ok {
				name, val, _ := strings.Cut(g, "=")
				cp.Gates[name] = val == "true"
			}
			if u, ok := strings.CutPrefix(sc.Text(), "apiserver "); ok {
				urls <- u
			}
		}
	}()
	go func() {
		cp.waitErr = cp.group.Wait()
		close(cp.exited)
	}()
	if err := cp.awaitReady(ctx, urls); err != nil {
		cp.Stop()
		return nil, fmt.Errorf("%w\ncontrol plane log:\n%s", err, cp.LogTail(8192))
	}
	return cp, nil
}

func (cp *ControlPlane) awaitReady(ctx context.Context, urls <-chan string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	select {
	case cp.URL = <-urls:
	case <-cp.exited:
		return fmt.Errorf("controlplane exited: %v", cp.waitErr)
	case <-ctx.Done():
		return fmt.Errorf("controlplane did not say where it listens: %w", ctx.Err())
	}
	cp.Config = &rest.Config{Host: cp.URL, BearerToken: AdminToken, TLSClientConfig: rest.TLSClientConfig{CAData: cp.CA.CertPEM}}
	var err error
	if cp.Admin, err = kubernetes.NewForConfig(cp.Config); err != nil {
		return err
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		body, err := cp.Admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("%w: %s", err, body)
		select {
		case <-cp.exited:
			return fmt.Errorf("controlplane exited: %v", cp.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("API server not ready: %v", last)
		case <-tick.C:
		}
	}
}

// User is how a kubeconfig authenticates: a token or a client certificate.
type User struct {
	Token string
	Cert  *KeyPair
}

// WriteKubeconfig writes a kubeconfig for user to path.
func (cp *ControlPlane) WriteKubeconfig(path string, u User) error {
	return WriteKubeconfig(path, cp.URL, cp.CA.CertPEM, u)
}

// WriteKubeconfig writes a kubeconfig for server (trusting caPEM) and u.
func WriteKubeconfig(path, server string, caPEM []byte, u User) error {
	auth := &clientcmdapi.AuthInfo{Token: u.Token}
	if u.Cert != nil {
		auth.ClientCertificateData, auth.ClientKeyData = u.Cert.CertPEM, u.Cert.KeyPEM
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["user"] = auth
	cfg.Contexts["ctx"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "user", Namespace: "default"}
	cfg.CurrentContext = "ctx"
	return clientcmd.WriteToFile(*cfg, path)
}

// SetupRBAC lets LimitedUser get and list pods (and nothing else, so every
// stream is refused to it by the API server itself).
func (cp *ControlPlane) SetupRBAC(ctx context.Context) error {
	role := []byte(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"interop-pod-reader"},
"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch"]}]}`)
	binding := []byte(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"interop-pod-reader"},
"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"interop-pod-reader"},
"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"` + LimitedUser + `"}]}`)
	rc := cp.Admin.RbacV1().RESTClient()
	for _, obj := range []struct {
		res  string
		body []byte
	}{{"clusterroles", role}, {"clusterrolebindings", binding}} {
		err := rc.Post().Resource(obj.res).Body(obj.body).SetHeader("Content-Type", "application/json").Do(ctx).Error()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", obj.res, err)
		}
	}
	return nil
}

// AwaitPodRunning waits for the pod's status (as its node publishes it) to
// be Running with every container running.
func (cp *ControlPlane) AwaitPodRunning(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last string
	for {
		p, err := cp.Admin.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			ready := p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == len(p.Spec.Containers)
			for _, cs := range p.Status.ContainerStatuses {
				ready = ready && cs.State.Running != nil
			}
			if ready {
				return p, nil
			}
			last = fmt.Sprintf("phase %q, %d container statuses", p.Status.Phase, len(p.Status.ContainerStatuses))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pod %s/%s not running: %s", ns, name, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Dir holds the control plane's files: the CA's and the certificates it
// issued (name.crt, name.key), apiserver-kubelet-client among them.
func (cp *ControlPlane) Dir() string { return cp.dir }

// LogTail is the end of the control plane's log.
func (cp *ControlPlane) LogTail(n int) string { return tailFile(cp.logPath, n) }

// Stop ends the control plane (SIGTERM, then SIGKILL after 20 s).
func (cp *ControlPlane) Stop() error {
	cp.stdin.Close()
	cp.group.Signal(syscall.SIGTERM)
	select {
	case <-cp.exited:
	case <-time.After(20 * time.Second):
		cp.group.Signal(syscall.SIGKILL)
		<-cp.exited
	}
	return nil
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
