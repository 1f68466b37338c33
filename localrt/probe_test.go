package localrt

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

func podReady(p *kube.Pod) bool {
	return p.IsReady() && p.Status.ContainerStatuses[0].Ready
}

// TestReadinessExec: a container whose exec probe checks a file is
// running but not ready until the file exists, ready once it does, and
// not ready again after failureThreshold failures once it is gone.
func TestReadinessExec(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "ready")
	c := kube.Container{Command: []string{"sleep", "infinity"}, ReadinessProbe: &kube.Probe{
		Exec: &kube.ExecAction{Command: []string{"test", "-f", flag}}, PeriodSeconds: 1, FailureThreshold: 2}}
	r := start(t, testPod("probed", c, ""))
	p := waitPod(t, r, "probed", "running", isRunning)
	if podReady(p) {
		t.Fatalf("ready before the probe succeeded: %+v", p.Status)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitPod(t, r, "probed", "ready", podReady)
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	p = waitPod(t, r, "probed", "not ready", func(p *kube.Pod) bool { return !podReady(p) })
	if !isRunning(p) || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("readiness failure touched the process: %+v", p.Status)
	}
}

// TestReadinessNetwork: tcpSocket by container port name and httpGet by
// number; an HTTP 500 is not ready, a 200 is.
func TestReadinessNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	var gotPath atomic.Value
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.Path + " " + r.Header.Get("X-Probe"))
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	tcp := kube.Container{Name: "tcp", Command: []string{"sleep", "infinity"},
		Ports:          []kube.ContainerPort{{Name: "web", ContainerPort: int32(port)}},
		ReadinessProbe: &kube.Probe{TCPSocket: &kube.TCPSocketAction{Port: kube.FromString("web")}, PeriodSeconds: 1}}
	get := kube.Container{Name: "http", Command: []string{"sleep", "infinity"},
		ReadinessProbe: &kube.Probe{HTTPGet: &kube.HTTPGetAction{Path: "healthz", Port: kube.FromInt(int32(port)),
			HTTPHeaders: []kube.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}, PeriodSeconds: 1, FailureThreshold: 1}}
	r := start(t, testPod("tcp", tcp, ""), testPod("http", get, ""))
	waitPod(t, r, "tcp", "ready", podReady)
	for gotPath.Load() == nil {
		time.Sleep(10 * time.Millisecond) // polling a state: a failing probe changes no status
	}
	if p, _ := r.Pod(context.Background(), "default", "http"); podReady(p) {
		t.Errorf("ready on HTTP 500")
	}
	if got := gotPath.Load(); got != "/healthz yes" {
		t.Errorf("probe request %q, want \"/healthz yes\"", got)
	}
	healthy.Store(true)
	waitPod(t, r, "http", "ready", podReady)
	// A closed port: the TCP probe fails (after 3 failures, the default).
	srv.Close()
	waitPod(t, r, "tcp", "not ready", func(p *kube.Pod) bool { return !podReady(p) })
}

// TestReadinessRestart: a restarted container starts not ready: its probe
// must pass again.
func TestReadinessRestart(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ready")
	gate := filepath.Join(dir, "exit")
	// The process exits when the gate file appears, once.
	c := kube.Container{Command: []string{"sh", "-c", "while [ ! -f " + gate + " ]; do sleep 0.05; done; rm " + gate},
		ReadinessProbe: &kube.Probe{Exec: &kube.ExecAction{Command: []string{"test", "-f", flag}}, PeriodSeconds: 1}}
	r := start(t, testPod("restarting", c, ""))
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitPod(t, r, "restarting", "ready", podReady)
	os.Remove(flag)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := waitPod(t, r, "restarting", "restarted", func(p *kube.Pod) bool {
		return p.Status.ContainerStatuses[0].RestartCount == 1 && isRunning(p)
	})
	if podReady(p) {
		t.Errorf("restarted container ready without a probe: %+v", p.Status)
	}
}
