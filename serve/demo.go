package serve

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// DemoPod is the pod served when no manifest is given: "demo" in namespace
// "default", one container "shell" running sh with stdin open and no tty,
// so both `kubectl exec demo -- date` and `kubectl attach -i demo` work at
// once. No tty because a tty container's shell would echo and prompt,
// which suits `attach -it` but garbles `attach -i` output; `kubectl exec
// -it demo -- sh` gets a tty either way.
func DemoPod() *kube.Pod {
	return &kube.Pod{
		TypeMeta:   kube.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: kube.ObjectMeta{Name: "demo", Namespace: kube.DefaultNamespace, Labels: map[string]string{"app": "demo"}},
		Spec: kube.PodSpec{Containers: []kube.Container{{
			Name:    "shell",
			Image:   "porthole/local",
			Command: []string{"sh"},
			Stdin:   true,
		}}},
	}
}

// DemoWebPort is the port the demo pod's web container serves HTTP on.
const DemoWebPort = 8080

// demoPodWithWeb is DemoPod with a second container, "web", running web
// (a command that serves HTTP on 127.0.0.1:DemoWebPort, such as `porthole
// demo-web`), so `kubectl port-forward demo 9090:8080` has something to
// reach. The shell stays the default container (the annotation kubectl
// reads), so exec and attach need no -c and print no "Defaulted" notice.
func demoPodWithWeb(web []string) *kube.Pod {
	p := DemoPod()
	p.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": "shell"}
	p.Spec.Containers = append(p.Spec.Containers, kube.Container{
		Name:    "web",
		Image:   "porthole/local",
		Command: web,
		Ports:   []kube.ContainerPort{{Name: "http", ContainerPort: DemoWebPort, Protocol: "TCP"}},
	})
	return p
}

// Kubernetes version porthole reports on /version. The machine's kubectl
// may be a dispatcher that picks a client binary by the server's minor
// version, and kubectl warns beyond one minor of skew, so this is the
// newest release the supported kubectl clients know (see serve tests).
const (
	versionMajor = "1"
	versionMinor = "33"
	// Oldest minor a 1.33 API server stays compatible with.
	versionMinCompatibilityMinor = "32"
)

// versionInfo is the /version document.
func versionInfo() kube.VersionInfo {
	return kube.VersionInfo{
		Major:                 versionMajor,
		Minor:                 versionMinor,
		EmulationMajor:        versionMajor,
		EmulationMinor:        versionMinor,
		MinCompatibilityMajor: versionMajor,
		MinCompatibilityMinor: versionMinCompatibilityMinor,
		GitVersion:            "v" + versionMajor + "." + versionMinor + ".0-porthole",
		GitCommit:             "",
		GitTreeState:          "",
		BuildDate:             "",
		GoVersion:             runtime.Version(),
		Compiler:              runtime.Compiler,
		Platform:              runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// writeBanner tells the user where the server is and how to use it, with
// a command to paste that execs into pod (the first pod served).
func writeBanner(w io.Writer, url, kubeconfig string, pod node.PodRef) {
	var b strings.Builder
	fmt.Fprintf(&b, "porthole serving on %s\n", url)
	target := "--server " + url
	if kubeconfig != "" {
		fmt.Fprintf(&b, "kubeconfig: %s\n", kubeconfig)
		target = "--kubeconfig " + shellQuote(kubeconfig)
	}
	if pod.Namespace != kube.DefaultNamespace {
		target += " -n " + pod.Namespace
	}
	fmt.Fprintf(&b, "try: kubectl %s exec %s -- date\n", target, pod.Name)
	io.WriteString(w, b.String())
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
