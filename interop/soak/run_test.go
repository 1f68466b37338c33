package soak

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/porthole/porthole/interop/internal/harness"
)

// sessionTimeout bounds one session; reapTimeout bounds how long the
// server may take to end a session's pod processes afterwards.
const (
	sessionTimeout = 90 * time.Second
	reapTimeout    = 15 * time.Second
)

// Outcomes. ok and clear are the two acceptable ones.
const (
	outOK         = "ok"           // every byte exactly once, exact exit code
	outClear      = "clear-fail"   // non-zero exit (or error) with a message, or a killed client
	outSilent     = "silent-loss"  // success claimed, data missing or corrupt
	outWrongExit  = "wrong-exit"   // an exit code that is not the remote one
	outUnclear    = "unclear-fail" // non-zero exit without any message
	outUnexpected = "unexpected"   // failed although no fault fired
	outHang       = "hang"         // did not end within sessionTimeout
	// outKnownClient: a silent loss or exit 0 by client-go's SPDY
	// executor (kubectl's SPDY wire, client-go's NewSPDYExecutor) after
	// the fault proxy cut the TCP connection (reset or forged FIN): the
	// executor treats an error stream that ends without a Status as
	// success (client-go tools/remotecommand errorstream.go
	// watchErrorStream; kubernetes/kubectl#1208, #1726,
	// kubernetes/kubernetes#73056, open fix kubernetes/kubernetes#137404).
	// Nothing reaches the client once the connection is cut, so no server
	// can prevent it; counted and listed, not asserted.
	outKnownClient = "known-clientgo-spdy"
)

// result is one finished session.
type result struct {
	spec     spec
	outcome  string
	fired    bool
	detail   string
	leftover string // pod processes still running after reapTimeout
	took     time.Duration
}

// session is one run of a spec: its own directory (HOME, kubeconfig,
// files) and its own fault proxy.
type session struct {
	spec
	dir        string
	srv        *harness.Server // env.Server unless a phase runs its own
	proxy      *faultProxy
	kubeconfig string
	config     *rest.Config

	mu     sync.Mutex
	proc   *os.Process
	killed bool
}

// runSession runs s and classifies the outcome. Errors of the harness
// itself (not of the session) are returned.
func runSession(ctx context.Context, s spec, dir string) (result, error) {
	ss := &session{spec: s, dir: dir, srv: env.Server}
	start := time.Now()
	p, err := newFaultProxy(upstreamFor(s.path), s.fault, ss.kill)
	if err != nil {
		return result{}, err
	}
	ss.proxy = p
	if err := ss.writeKubeconfig(); err != nil {
		p.Close()
		return result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, sessionTimeout)
	defer cancel()
	var out outcome
	switch s.op {
	case opExec, opExecStdin:
		out, err = ss.exec(ctx)
	case opCpIn, opCpOut:
		out, err = ss.copy(ctx)
	case opPortForward:
		out, err = ss.portForward(ctx)
	default:
		err = fmt.Errorf("unknown op %q", s.op)
	}
	hung := ctx.Err() != nil
	p.Close()
	if err != nil {
		return result{}, err
	}
	r := result{spec: s, fired: p.Fired(), took: time.Since(start)}
	r.outcome, r.detail = classify(s, out, r.fired, ss.wasKilled(), hung)
	if (r.outcome == outSilent || r.outcome == outWrongExit) && knownClientGoSPDY(s, r.fired) {
		r.outcome = outKnownClient
	}
	if err := harness.AwaitNoProcs(context.Background(), s.marker, reapTimeout); err != nil {
		r.leftover = err.Error()
	}
	return r, nil
}

func (ss *session) kill() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.proc != nil {
		_ = ss.proc.Kill()
		ss.killed = true
	}
}

func (ss *session) wasKilled() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.killed
}

func (ss *session) started(p *os.Process) {
	ss.mu.Lock()
	ss.proc = p
	ss.mu.Unlock()
}

// writeKubeconfig is the server's kubeconfig pointed at the fault proxy.
func (ss *session) writeKubeconfig() error {
	raw, err := clientcmd.LoadFromFile(ss.srv.Kubeconfig)
	if err != nil {
		return err
	}
	for _, c := range raw.Clusters {
		c.Server = ss.proxy.URL()
	}
	ss.kubeconfig = filepath.Join(ss.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, ss.kubeconfig); err != nil {
		return err
	}
	ss.config = rest.CopyConfig(ss.srv.Config)
	ss.config.Host = ss.proxy.URL()
	return nil
}

// outcome is what a session observed, before classification.
type outcome struct {
	code     int    // process exit code; -1 killed by a signal
	errText  string // stderr, or the error's text for client-go
	claimed  int    // the remote exit code the client reported, -1 none
	dataOK   bool   // every byte exactly once
	dataDesc string // what was received, when not dataOK
	// corrupt: the bytes received are not a prefix of the expected ones
	// (port-forward, where a cut connection is not a client error).
	corrupt bool
	// pfErr: the port-forward connection ended with an error (reset) or
	// the forwarder reported one.
	pfErr bool
}

var claimedExit = regexp.MustCompile(`command terminated with exit code (\d+)`)

// classify applies the invariant: every byte exactly once with the exact
// exit code, or a non-zero exit with a clear error. Never success (or the
// remote's exit code) with missing bytes, never a wrong exit code.
func classify(s spec, o outcome, fired, killed, hung bool) (string, string) {
	d := fmt.Sprintf("code=%d claimed=%d data: %s stderr: %s", o.code, o.claimed, o.dataDesc, tail(o.errText, 400))
	if hung {
		return outHang, d
	}
	if s.op == opPortForward {
		switch {
		case o.dataOK:
			return outOK, d
		case o.corrupt:
			return outSilent, d
		case !fired && !killed:
			return outUnexpected, d
		case o.pfErr || killed:
			return outClear, d
		default:
			return outSilent, d
		}
	}
	want := s.exit
	// The remote's exit code is what came back only when the client says
	// so ("command terminated with exit code N", a CodeExitError): a CLI's
	// own failure exits 1 too.
	remote := (want == 0 && o.code == 0) || (want != 0 && o.claimed == want && o.code == want)
	switch {
	case remote && o.dataOK:
		return outOK, d
	case o.code == 0 && want != 0:
		return outWrongExit, d
	case o.claimed >= 0 && o.claimed != want:
		return outWrongExit, d
	case remote:
		// The remote's code (0 or not) with bytes missing or corrupt.
		return outSilent, d
	case !fired && !killed:
		return outUnexpected, d
	case killed:
		return outClear, d
	case strings.TrimSpace(o.errText) == "":
		return outUnclear, d
	default:
		return outClear, d
	}
}

// knownClientGoSPDY: the session's client reads exec results with
// client-go's SPDY executor and the connection was cut under it.
func knownClientGoSPDY(s spec, fired bool) bool {
	clientGoBased := s.client == clientGo || s.k != nil
	cut := s.fault.kind == faultReset || s.fault.kind == faultHalfClose
	return clientGoBased && !s.wire.WebSocket && s.op != opPortForward && fired && cut
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// command builds the CLI invocation for args (kubectl or porthole).
func (ss *session) command(ctx context.Context, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if ss.k != nil {
		cmd = ss.k.Command(ctx, ss.wire, ss.dir, ss.kubeconfig, args...)
	} else {
		proto := "spdy"
		if ss.wire.WebSocket {
			proto = "websocket"
		}
		// porthole's flags go after the subcommand, before "--".
		full := append([]string{args[0], "--kubeconfig", ss.kubeconfig, "--protocol", proto}, args[1:]...)
		cmd = exec.CommandContext(ctx, env.Porthole, full...)
		cmd.Env = []string{"HOME=" + ss.dir, "PATH=" + os.Getenv("PATH"), "LANG=C"}
		cmd.WaitDelay = 10 * time.Second
	}
	return cmd
}

// runCLI runs cmd to the end, registering it for the kill fault.
func (ss *session) runCLI(cmd *exec.Cmd) (code int, err error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	ss.started(cmd.Process)
	werr := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case werr == nil:
		return 0, nil
	case errors.As(werr, &ee):
		return ee.ExitCode(), nil // -1 when killed by a signal
	case errors.Is(werr, exec.ErrWaitDelay):
		return cmd.ProcessState.ExitCode(), nil
	default:
		return 0, werr
	}
}

// expected returns the session's payload: the exec output slice of the
// source file, or random bytes for stdin, port-forward and cp.
func (ss *session) payload() []byte {
	if ss.op == opExec {
		return source[ss.offset : ss.offset+ss.size]
	}
	b := make([]byte, ss.size)
	_, _ = io.ReadFull(harness.NewDataReader(ss.seed^uint64(ss.index)<<20^0x50a4), b)
	return b
}

func describe(got, want []byte) (bool, string) {
	if bytes.Equal(got, want) {
		return true, fmt.Sprintf("%d bytes exact", len(got))
	}
	prefix := len(got) <= len(want) && bytes.Equal(got, want[:len(got)])
	return false, fmt.Sprintf("got %d bytes (sha256 %s), want %d (sha256 %s), prefix=%v", len(got), sum(got), len(want), sum(want), prefix)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// exec: stdout must be the payload and the exit code the remote one.
func (ss *session) exec(ctx context.Context) (outcome, error) {
	want := ss.payload()
	var script string
	var stdin io.Reader
	var argv []string
	if ss.op == opExec {
		script = `tail -c +"$1" "$2" | head -c "$3"; exit "$4"`
		argv = []string{"sh", "-c", script, ss.marker, strconv.FormatInt(ss.offset+1, 10), sourcePath, strconv.FormatInt(ss.size, 10), strconv.Itoa(ss.exit)}
	} else {
		script = `cat; exit "$1"`
		argv = []string{"sh", "-c", script, ss.marker, strconv.Itoa(ss.exit)}
		stdin = bytes.NewReader(want)
	}
	var stdout, stderr bytes.Buffer
	o := outcome{claimed: -1}
	if ss.client == clientGo {
		err := ss.clientGoExec(ctx, argv, stdin, &stdout, &stderr)
		var ce utilexec.CodeExitError
		switch {
		case err == nil:
		case errors.As(err, &ce):
			o.code, o.claimed = ce.Code, ce.Code
			o.errText = err.Error()
		default:
			o.code = 1
			o.errText = err.Error()
		}
	} else {
		args := []string{"exec"}
		if stdin != nil {
			args = append(args, "-i")
		}
		args = append(append(args, harness.PodExec, "--"), argv...)
		cmd := ss.command(ctx, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
		code, err := ss.runCLI(cmd)
		if err != nil {
			return o, err
		}
		o.code, o.errText = code, stderr.String()
		if m := claimedExit.FindStringSubmatch(o.errText); m != nil {
			o.claimed, _ = strconv.Atoi(m[1])
		}
	}
	o.dataOK, o.dataDesc = describe(stdout.Bytes(), want)
	return o, nil
}

func (ss *session) clientGoExec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	u, err := url.Parse(strings.TrimSuffix(ss.config.Host, "/"))
	if err != nil {
		return err
	}
	u.Path = fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/exec", harness.Namespace, harness.PodExec)
	q := url.Values{}
	for _, c := range argv {
		q.Add("command", c)
	}
	q.Set("stdout", "true")
	q.Set("stderr", "true")
	if stdin != nil {
		q.Set("stdin", "true")
	}
	u.RawQuery = q.Encode()
	var e remotecommand.Executor
	if ss.wire.WebSocket {
		e, err = remotecommand.NewWebSocketExecutor(ss.config, http.MethodGet, u.String())
	} else {
		e, err = remotecommand.NewSPDYExecutor(ss.config, http.MethodPost, u)
	}
	if err != nil {
		return err
	}
	return e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// copy: cp-in puts a file into <dir>/<marker>/ in the pod (this machine's
// filesystem), cp-out reads one from there. Exit 0 means the file is
// there complete.
func (ss *session) copy(ctx context.Context) (outcome, error) {
	want := ss.payload()
	podDir := filepath.Join(ss.dir, "pod", ss.marker)
	if err := os.MkdirAll(podDir, 0o755); err != nil {
		return outcome{}, err
	}
	local := filepath.Join(ss.dir, "local.bin")
	podFile := filepath.Join(podDir, "f.bin")
	var check string
	var args []string
	if ss.op == opCpIn {
		if err := os.WriteFile(local, want, 0o644); err != nil {
			return outcome{}, err
		}
		args = []string{"cp", local, harness.PodExec + ":" + podFile}
		check = podFile
	} else {
		if err := os.WriteFile(podFile, want, 0o644); err != nil {
			return outcome{}, err
		}
		args = []string{"cp", harness.PodExec + ":" + podFile, local}
		check = local
	}
	var stderr bytes.Buffer
	cmd := ss.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	code, err := ss.runCLI(cmd)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{code: code, claimed: -1, errText: stderr.String()}
	got, err := os.ReadFile(check)
	if err != nil {
		o.dataDesc = err.Error()
	} else {
		o.dataOK, o.dataDesc = describe(got, want)
	}
	return o, nil
}

var forwarding = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)`)

// portForward: one connection through the forwarder to the echo server,
// the payload written and read back byte-exact.
func (ss *session) portForward(ctx context.Context) (outcome, error) {
	want := ss.payload()
	args := []string{"port-forward", "--address", "127.0.0.1", "pod/" + harness.PodExec, fmt.Sprintf(":%d", echoPort)}
	cmd := ss.command(ctx, args...)
	// SIGINT first, as a user ends a forward; WaitDelay then kills.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return outcome{}, err
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return outcome{}, err
	}
	ss.started(cmd.Process)
	exited := make(chan struct{})
	var waitErr error
	pfCtx, stopPF := context.WithCancel(ctx)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case lines <- m[1]:
				default:
				}
			}
		}
		close(lines)
	}()
	go func() {
		<-pfCtx.Done()
		_ = cmd.Process.Signal(os.Interrupt)
	}()
	go func() { waitErr = cmd.Wait(); close(exited) }()
	finish := func() {
		stopPF()
		<-exited
	}
	o := outcome{code: 0, claimed: -1}
	local, ok := <-lines
	if !ok {
		finish()
		o.errText = stderr.String()
		o.pfErr = true
		o.dataDesc = fmt.Sprintf("forwarder ended before forwarding: %v", waitErr)
		return o, nil
	}
	got, rerr := echoOnce(ctx, "127.0.0.1:"+local, want)
	o.dataOK, o.dataDesc = describe(got, want)
	if rerr != nil {
		o.dataDesc += fmt.Sprintf(" (%v)", rerr)
	}
	o.corrupt = !o.dataOK && !(len(got) <= len(want) && bytes.Equal(got, want[:len(got)]))
	if !o.dataOK {
		// A clean EOF is only acceptable if the forwarder said something
		// went wrong; give it a bounded moment to say so.
		o.pfErr = rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, io.EOF)
		deadline := time.Now().Add(5 * time.Second)
		for !o.pfErr && time.Now().Before(deadline) {
			select {
			case <-exited:
				o.pfErr = true
			case <-time.After(50 * time.Millisecond):
			}
			if strings.Contains(strings.ToLower(stderr.String()), "error") || strings.Contains(stderr.String(), "lost connection") {
				o.pfErr = true
			}
		}
	}
	finish()
	o.errText = stderr.String()
	return o, nil
}

// echoOnce writes want to addr and reads len(want) bytes back.
func echoOnce(ctx context.Context, addr string, want []byte) ([]byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(want)
		werr <- err
	}()
	got := make([]byte, len(want))
	n, rerr := io.ReadFull(c, got)
	c.Close()
	<-werr
	return got[:n], rerr
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
