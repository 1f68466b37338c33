package officialclients

import (
	"strconv"
	"testing"

	"github.com/porthole/porthole/interop/internal/harness"
	"github.com/porthole/porthole/interop/internal/official"
)

// at is a pod of the shared serve, or of the server of kubeconfig.
func at(kubeconfig, pod string) official.Target {
	if kubeconfig == "" {
		kubeconfig = env.Server.Kubeconfig
	}
	return official.Target{Kubeconfig: kubeconfig, Namespace: harness.Namespace, Pod: pod, Container: harness.ContainerMain}
}

// TestExecBigStdin: each official client writes stdin of 2, 8 and 32 MiB
// as one message each (the Python client lost the session on any write
// over 1 MiB before porthole accepted them); the pod hashes exactly what
// arrived, and the client reads the remote exit code 3.
func TestExecBigStdin(t *testing.T) {
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			for _, size := range []int{2 << 20, 8 << 20, 32<<20 - 1} {
				t.Run(strconv.Itoa(size)+"B", func(t *testing.T) { c.Exec(t, at("", harness.PodExec), size) })
			}
		})
	}
}

// TestOfficialAttach: each official client attaches to the cat pod over
// serve's HTTPS, writes a unique line and reads it back.
func TestOfficialAttach(t *testing.T) {
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) { c.Attach(t, at("", harness.PodCat)) })
	}
}

// TestOfficialTTYResize: each official client opens a tty exec, sets the
// terminal to 100x40 its own way (Python on channel 4, JavaScript from a
// stdout with rows and columns), sees stty report it, and gets exit code 5.
func TestOfficialTTYResize(t *testing.T) {
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) { c.TTYResize(t, at("", harness.PodExec)) })
	}
}

// TestOfficialPortForward: each official client forwards to an echo server
// on the pod's network (the local runtime's is this machine's) and gets
// every byte of 2 MiB back, checksummed.
func TestOfficialPortForward(t *testing.T) {
	echo := harness.StartEcho(t)
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			c.PortForward(t, at("", harness.PodExec), echo.Port(), 2<<20, echo.String)
		})
	}
}

// TestOfficialAPI: each official client makes the API calls its users
// make around a session, against serve: discovery (Python's paths end in
// a slash), a pod from its models (no kind, no apiVersion), a watch
// (Python sends watch=True) until it runs, its log followed (follow=True),
// a deployment's scale and status, and the deletes.
func TestOfficialAPI(t *testing.T) {
	for _, c := range official.Clients() {
		t.Run(c.Name, func(t *testing.T) { c.API(t, at("", ""), "api-"+c.Name) })
	}
}
