package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/porthole/porthole/interop/criref"
	"github.com/porthole/porthole/interop/internal/harness"
)

// Pod and container every exec targets, on both nodes.
const (
	podNamespace  = "default"
	podName       = "bench"
	containerName = "main"
)

// podManifest is the pod porthole serves: one long-running container, so
// that exec has a running container to target.
const podManifest = `apiVersion: v1
kind: Pod
metadata:
  name: ` + podName + `
  namespace: ` + podNamespace + `
spec:
  containers:
  - name: ` + containerName + `
    image: porthole/local
    command: ["sleep", "1000000"]
`

// Node is a streaming server under test, running as a child process.
type Node struct {
	// Name labels the node in tables.
	Name string
	// URL is the base URL (http://127.0.0.1:PORT).
	URL string
	// PID is the server's process ID, whose memory is measured.
	PID int
	// Kubeconfig, when set, is a kubeconfig for the node (porthole serve
	// writes one), for kubectl and porthole's commands.
	Kubeconfig string

	cmd    *exec.Cmd
	waited chan struct{}
	// mintDirect, when set, gives a one-time URL for execs over the wires
	// the reference serves without its front (SPDY, legacy WebSocket).
	mintDirect func(ctx context.Context, e *Exec) (string, error)
	// heap reads the server's Go heap in use, if it tells.
	heap func(ctx context.Context) (uint64, error)
	// goroutines reads the server's goroutine count, if it tells.
	goroutines func(ctx context.Context) (int, error)
	// live reads the server's live Go heap (allocated bytes right after a
	// forced collection), if it tells.
	live func(ctx context.Context) (uint64, error)
}

// Exec is one exec request.
type Exec struct {
	Cmd                        []string
	Stdin, Stdout, Stderr, TTY bool
}

// ExecURL returns the URL client-go should use for e over wire.
func (n *Node) ExecURL(ctx context.Context, w Wire, e *Exec) (string, error) {
	if w.direct() && n.mintDirect != nil {
		return n.mintDirect(ctx, e)
	}
	q := url.Values{"command": e.Cmd, "container": {containerName}}
	for name, on := range map[string]bool{"stdin": e.Stdin, "stdout": e.Stdout, "stderr": e.Stderr, "tty": e.TTY} {
		if on {
			q.Set(name, "true")
		}
	}
	return fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s/exec?%s", n.URL, podNamespace, podName, q.Encode()), nil
}

// RSS is the server's resident set size in bytes: its process's VmRSS,
// plus its spawn helper's private memory when it started one (porthole's
// runtime does once it holds many descriptors): the helper is part of the
// server's cost. The helper's file pages are not counted: it is the
// server's own executable, whose pages the server has resident already.
func (n *Node) RSS() (uint64, error) {
	rss, err := readRSS(n.PID)
	if err != nil {
		return 0, err
	}
	for _, pid := range spawnHelpers(n.PID) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			anon, aerr := parseStatusKB(b, "RssAnon:")
			shmem, serr := parseStatusKB(b, "RssShmem:")
			if aerr == nil && serr == nil {
				rss += anon + shmem
			}
		}
	}
	return rss, nil
}

// spawnHelperName is the argv[0] of porthole's spawn helper.
const spawnHelperName = "porthole-spawn-helper"

// spawnHelpers returns the pids of parent's children named as porthole's
// spawn helper (by a scan of /proc: /proc/PID/task/TID/children is not
// built into every kernel).
func spawnHelpers(parent int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if ppid, ok := parentInStat(stat); !ok || ppid != parent {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.HasPrefix(string(cmdline), spawnHelperName+"\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parentInStat returns the ppid field of a /proc/PID/stat document: the
// second after the command name's closing parenthesis (the name may hold
// spaces and parentheses).
func parentInStat(stat []byte) (int, bool) {
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// Heap is the server's Go heap in use in bytes, when it exposes it.
func (n *Node) Heap(ctx context.Context) (uint64, error) {
	if n.heap == nil {
		return 0, errors.ErrUnsupported
	}
	return n.heap(ctx)
}

// LiveHeap is the server's live Go heap in bytes, the bytes still
// allocated right after a forced collection, when it exposes it: what the
// server keeps, without the garbage a later collection would free.
func (n *Node) LiveHeap(ctx context.Context) (uint64, error) {
	if n.live == nil {
		return 0, errors.ErrUnsupported
	}
	return n.live(ctx)
}

// Goroutines is the server's goroutine count, when it exposes it.
func (n *Node) Goroutines(ctx context.Context) (int, error) {
	if n.goroutines == nil {
		return 0, errors.ErrUnsupported
	}
	return n.goroutines(ctx)
}

// profileTotal reads the count in a goroutine profile's first line,
// "goroutine profile: total N".
func profileTotal(p []byte) (int, error) {
	line, _, _ := bytes.Cut(p, []byte("\n"))
	v, ok := bytes.CutPrefix(line, []byte("goroutine profile: total "))
	if !ok {
		return 0, fmt.Errorf("goroutine profile starts %q", line)
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("goroutine profile total: %w", err)
	}
	return n, nil
}

// GoroutineStacks is the server's goroutine profile (debug=1 text), or
// nil when it serves none (porthole without --profiling, the reference).
func (n *Node) GoroutineStacks(ctx context.Context) []byte {
	if n.Name != "porthole" {
		return nil
	}
	b, err := goroutineProfile(ctx, n.URL)
	if err != nil {
		return nil
	}
	return b
}

// goroutineProfile fetches a server's goroutine profile as text
// (debug=1: stacks grouped, with counts, under a "total" line).
func goroutineProfile(ctx context.Context, base string) ([]byte, error) {
	b, err := get(ctx, base+"/debug/pprof/goroutine?debug=1")
	if err != nil {
		return nil, fmt.Errorf("goroutine profile: %w", err)
	}
	return b, nil
}

// Close stops the server (SIGTERM, then SIGKILL after 10 s) and reaps it.
func (n *Node) Close() error {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-n.waited:
	case <-t.C:
		_ = n.cmd.Process.Kill()
		<-n.waited
	}
	return nil
}

func readRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	rss, err := parseVmRSS(b)
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return rss, nil
}

// parseVmRSS returns the VmRSS line of a /proc/PID/status document, in
// bytes ("VmRSS:     1234 kB").
func parseVmRSS(status []byte) (uint64, error) {
	return parseStatusKB(status, "VmRSS:")
}

// parseStatusKB returns the line of a /proc/PID/status document that
// starts with field, in bytes ("VmRSS:     1234 kB").
func parseStatusKB(status []byte, field string) (uint64, error) {
	name := strings.TrimSuffix(field, ":")
	for _, line := range strings.Split(string(status), "\n") {
		v, ok := strings.CutPrefix(line, field)
		if !ok {
			continue
		}
		num, ok := strings.CutSuffix(strings.TrimSpace(v), " kB")
		if !ok {
			return 0, fmt.Errorf("%s %q is not in kB", name, v)
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
		if err != nil || kb > math.MaxUint64/1024 {
			return 0, fmt.Errorf("parse %s %q: bad number", name, v)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s line", name)
}

// Build compiles pkg of the module in dir into out.
func Build(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// start runs cmd with its stderr going to errw and reaps it in the
// background.
func start(cmd *exec.Cmd, errw io.Writer) (*Node, error) {
	cmd.Stderr = errw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	n := &Node{cmd: cmd, PID: cmd.Process.Pid, waited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(n.waited) }()
	return n, nil
}

// StartReference runs the crirefd binary and reads its announcement.
func StartReference(ctx context.Context, bin string, errw io.Writer) (*Node, error) {
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	n, err := start(cmd, errw)
	if err != nil {
		return nil, err
	}
	var hello struct {
		URL string `json:"url"`
	}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &hello)
	}
	if err != nil || hello.URL == "" {
		_ = n.Close()
		return nil, fmt.Errorf("read crirefd announcement %q: %v", line, err)
	}
	n.Name, n.URL = "kubelet-lib", hello.URL
	n.mintDirect = func(ctx context.Context, e *Exec) (string, error) {
		return mintExec(ctx, n.URL, e)
	}
	n.heap = func(ctx context.Context) (uint64, error) {
		m, err := referenceMemStats(ctx, n.URL)
		return m.HeapInuse, err
	}
	n.live = func(ctx context.Context) (uint64, error) {
		// Two collections: sync.Pool keeps what the first one frees.
		if _, err := referenceMemStats(ctx, n.URL); err != nil {
			return 0, err
		}
		m, err := referenceMemStats(ctx, n.URL)
		return m.HeapAlloc, err
	}
	n.goroutines = func(ctx context.Context) (int, error) {
		m, err := referenceMemStats(ctx, n.URL)
		return m.Goroutines, err
	}
	return n, nil
}

// mintExec asks crirefd for a one-time cri-streaming URL, as a kubelet asks
// its runtime.
func mintExec(ctx context.Context, base string, e *Exec) (string, error) {
	body, err := json.Marshal(&runtimeapi.ExecRequest{
		ContainerId: podNamespace + "/" + podName + "/" + containerName,
		Cmd:         e.Cmd, Tty: e.TTY, Stdin: e.Stdin, Stdout: e.Stdout, Stderr: e.Stderr && !e.TTY,
	})
	if err != nil {
		return "", err
	}
	var resp criref.URLResponse
	if err := postJSON(ctx, base+"/criref/exec", body, &resp); err != nil {
		return "", fmt.Errorf("mint exec url: %w", err)
	}
	return resp.URL, nil
}

// referenceMemStats reads the reference's Go memory figures, which it
// takes right after a forced collection.
func referenceMemStats(ctx context.Context, base string) (criref.MemStats, error) {
	var m criref.MemStats
	if err := getJSON(ctx, base+"/criref/memstats", &m); err != nil {
		return m, fmt.Errorf("reference memstats: %w", err)
	}
	return m, nil
}

// StartPorthole writes the bench pod manifest into dir and runs
// `porthole serve` on a free loopback port, waiting until it serves the pod.
func StartPorthole(ctx context.Context, bin, dir string, errw io.Writer) (*Node, error) {
	manifest := filepath.Join(dir, "pods.yaml")
	if err := os.WriteFile(manifest, []byte(podManifest), 0o644); err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	// The held-session rows open thousands of sessions as one user, far
	// past serve's default limits (1,000 in all, 100 per user).
	// Its kubeconfig goes in dir: never the user's (serve's default is
	// ~/.config/porthole/kubeconfig, which a running demo uses).
	// --profiling lets a bench run take CPU profiles of it.
	kubeconfig := filepath.Join(dir, fmt.Sprintf("kubeconfig-%s", strings.ReplaceAll(addr, ":", "-")))
	n, err := start(exec.Command(bin, "serve", "--listen", addr, "-f", manifest, "--write-kubeconfig", kubeconfig,
		"--max-sessions", "100000", "--max-sessions-per-user", "100000", "--plain-http", "--profiling"), errw)
	if err != nil {
		return nil, err
	}
	n.Name, n.URL, n.Kubeconfig = "porthole", "http://"+addr, kubeconfig
	n.heap = func(ctx context.Context) (uint64, error) { return promHeap(ctx, n.URL) }
	// The heap profile's gc=1 collects before it answers (--profiling);
	// /metrics then reads what the collections left. Two, as sync.Pool
	// keeps what the first one frees.
	n.live = func(ctx context.Context) (uint64, error) {
		for range 2 {
			if _, err := get(ctx, n.URL+"/debug/pprof/heap?gc=1"); err != nil {
				return 0, fmt.Errorf("forced collection: %w", err)
			}
		}
		v, err := promGauge(ctx, n.URL, "go_memstats_alloc_bytes")
		return uint64(v), err
	}
	// The goroutine profile's total, not go_goroutines: the metrics
	// handler's own collector goroutines come and go while it counts, so
	// two scrapes of an idle server differ by one or two.
	n.goroutines = func(ctx context.Context) (int, error) {
		b, err := goroutineProfile(ctx, n.URL)
		if err != nil {
			return 0, err
		}
		return profileTotal(b)
	}
	if err := n.waitServing(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

// waitServing polls GET of the bench pod until it answers 200 (and the pod
// is Running), the process dies, or 30 s pass. Polling is how one waits for
// another process that offers no readiness signal.
func (n *Node) waitServing(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	podURL := fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s", n.URL, podNamespace, podName)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		var pod struct {
			Status struct{ Phase string } `json:"status"`
		}
		last = getJSON(ctx, podURL, &pod)
		if last == nil && pod.Status.Phase == "Running" {
			return nil
		}
		if last == nil {
			last = fmt.Errorf("pod phase %q", pod.Status.Phase)
		}
		select {
		case <-tick.C:
		case <-n.waited:
			return fmt.Errorf("%s exited before serving: %v", n.Name, n.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("%s not serving %s: %w (last: %v)", n.Name, podURL, ctx.Err(), last)
		}
	}
}

// promHeap reads go_memstats_heap_inuse_bytes from a Prometheus /metrics
// endpoint (no forced GC, unlike the reference's memstats).
func promHeap(ctx context.Context, base string) (uint64, error) {
	v, err := promGauge(ctx, base, "go_memstats_heap_inuse_bytes")
	return uint64(v), err
}

// promGauge reads one unlabelled metric from a Prometheus /metrics endpoint.
func promGauge(ctx context.Context, base, name string) (float64, error) {
	b, err := get(ctx, base+"/metrics")
	if se := (*StatusError)(nil); errors.As(err, &se) && se.Code == http.StatusNotFound {
		return 0, fmt.Errorf("server has no /metrics: %w", errors.ErrUnsupported)
	}
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(name+" ")); ok {
			f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s %q: %w", name, v, err)
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("no %s in /metrics: %w", name, errors.ErrUnsupported)
}

// freePort is a loopback address for porthole serve to bind: a port below
// the kernel's ephemeral range (harness.FreePort), which no outgoing
// connection can take between this choice and serve's bind.
func freePort() (string, error) {
	p, err := harness.FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

func get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return do(req)
}

func getJSON(ctx context.Context, u string, v any) error {
	b, err := get(ctx, u)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func postJSON(ctx context.Context, u string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	b, err := do(req)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func do(req *http.Request) ([]byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Code: resp.StatusCode, Msg: fmt.Sprintf("%s %s: %s: %s", req.Method, req.URL, resp.Status, bytes.TrimSpace(b))}
	}
	return b, nil
}

// StatusError is a control or metrics request answered with a non-200.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return e.Msg }
