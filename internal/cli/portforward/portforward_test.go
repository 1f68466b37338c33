package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/cli/clitest"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
	"github.com/porthole/porthole/serve"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// parent gives cmd the root's persistent flags, as the real tree does.
func TestFlags(t *testing.T) {
	type want struct {
		pod       string
		ports     []client.ForwardedPort
		addresses []string
		ns, exec  string
		protocol  string
	}
	lh := []string{"localhost"}
	for _, tc := range []struct {
		name string
		args []string
		want want
		err  string
	}{
		{name: "pod and ports", args: []string{"web", "8080:80", ":443", "9000"},
			want: want{pod: "web", ports: []client.ForwardedPort{{Local: 8080, Remote: 80}, {Local: 0, Remote: 443}, {Local: 9000, Remote: 9000}}, addresses: lh}},
		{name: "pod/ prefix", args: []string{"pod/web", "80"}, want: want{pod: "web", ports: []client.ForwardedPort{{Local: 80, Remote: 80}}, addresses: lh}},
		{name: "pods/ prefix", args: []string{"pods/web", "80"}, want: want{pod: "web", ports: []client.ForwardedPort{{Local: 80, Remote: 80}}, addresses: lh}},
		{name: "flags", args: []string{"-n", "ns", "--address", "127.0.0.1,::1", "web", "80", "--exec", "curl x", "--protocol", "websocket"},
			want: want{pod: "web", ports: []client.ForwardedPort{{Local: 80, Remote: 80}}, addresses: []string{"127.0.0.1", "::1"}, ns: "ns", exec: "curl x", protocol: "websocket"}},
		{name: "udp and tcp suffixes", args: []string{"dns", "5353:53/udp", "53/UDP", "8080:80/tcp"},
			want: want{pod: "dns", ports: []client.ForwardedPort{{Local: 5353, Remote: 53, Protocol: client.ProtocolUDP},
				{Local: 53, Remote: 53, Protocol: client.ProtocolUDP}, {Local: 8080, Remote: 80}}, addresses: lh}},
		{name: "named udp port", args: []string{"svc/dns", ":dns/udp"},
			want: want{pod: "dns", ports: []client.ForwardedPort{{Remote: 0, Protocol: client.ProtocolUDP}}, addresses: lh}},
		{name: "unknown protocol", args: []string{"web", "80/sctp"}, err: "error parsing port '80/sctp': unsupported protocol 'sctp' (tcp or udp)"},
		{name: "no ports", args: []string{"web"}, err: "TYPE/NAME and list of ports are required for port-forward"},
		{name: "not a pod's owner", args: []string{"cm/web", "80"}, err: `"cm/web" names no pods: give a pod, service, deployment, replica set or stateful set`},
		{name: "bad port", args: []string{"web", "80:Http_1"}, err: "error parsing remote port 'Http_1': invalid syntax"},
		{name: "bad local port", args: []string{"web", "x:http"}, err: "error parsing local port 'x': invalid syntax"},
		{name: "remote 0", args: []string{"web", "0"}, err: "remote port must be > 0"},
		{name: "bad protocol", args: []string{"web", "80", "--protocol", "x"}, err: `--protocol: unknown protocol "x" (want auto, websocket or spdy)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cli.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
			root := clitest.Root(cmd)
			root.SetArgs(append([]string{"port-forward"}, tc.args...))
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			err := root.Execute()
			if tc.err != "" {
				var fe *cli.FlagError
				if err == nil || err.Error() != tc.err || !errors.As(err, &fe) {
					t.Fatalf("got error %v, want FlagError %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := want{got.Pod, got.Ports, got.Addresses, got.Kube.Namespace, got.Exec, got.Protocol}
			if g.pod != tc.want.pod || !slices.Equal(g.ports, tc.want.ports) || !slices.Equal(g.addresses, tc.want.addresses) ||
				g.ns != tc.want.ns || g.exec != tc.want.exec || g.protocol != tc.want.protocol {
				t.Errorf("got %+v, want %+v", g, tc.want)
			}
		})
	}
}

// TestWire: --protocol wins; else only "false" in any case turns the
// tunnel off, as kubectl reads KUBECTL_PORT_FORWARD_WEBSOCKETS.
func TestWire(t *testing.T) {
	for _, tc := range []struct {
		protocol, env string
		want          client.Wire
	}{
		{"", "", client.WireAuto},
		{"", "false", client.WireSPDY},
		{"", "FaLsE", client.WireSPDY},
		{"", "0", client.WireAuto},
		{"", "no", client.WireAuto},
		{"", "true", client.WireAuto},
		{"auto", "false", client.WireAuto},
		{"websocket", "false", client.WireWebSocket},
		{"spdy", "", client.WireSPDY},
	} {
		o := &Options{Protocol: tc.protocol, Getenv: func(k string) string {
			if k == WebSocketsEnv {
				return tc.env
			}
			return ""
		}}
		if got := o.Wire(); got != tc.want {
			t.Errorf("--protocol=%q %s=%q: got %q, want %q", tc.protocol, WebSocketsEnv, tc.env, got, tc.want)
		}
	}
}

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want client.ForwardedPort
		err  string
	}{
		{"80", client.ForwardedPort{Local: 80, Remote: 80}, ""},
		{"8080:80", client.ForwardedPort{Local: 8080, Remote: 80}, ""},
		{":80", client.ForwardedPort{Local: 0, Remote: 80}, ""},
		{"0:80", client.ForwardedPort{Local: 0, Remote: 80}, ""},
		{"65535:65535", client.ForwardedPort{Local: 65535, Remote: 65535}, ""},
		{"65536", client.ForwardedPort{}, "error parsing remote port '65536': value out of range"},
		{"x:80", client.ForwardedPort{}, "error parsing local port 'x': invalid syntax"},
		{"1:2:3", client.ForwardedPort{}, "invalid port format '1:2:3'"},
		{"", client.ForwardedPort{}, "error parsing remote port '': invalid syntax"},
		{"80:", client.ForwardedPort{}, "error parsing remote port '': invalid syntax"},
		{"0", client.ForwardedPort{}, "remote port must be > 0"},
		{"5353:53/udp", client.ForwardedPort{Local: 5353, Remote: 53, Protocol: client.ProtocolUDP}, ""},
		{":53/Udp", client.ForwardedPort{Remote: 53, Protocol: client.ProtocolUDP}, ""},
		{"80/tcp", client.ForwardedPort{Local: 80, Remote: 80}, ""},
		{"80/", client.ForwardedPort{}, "error parsing port '80/': unsupported protocol '' (tcp or udp)"},
		{"80/udp/udp", client.ForwardedPort{}, "error parsing remote port '80/udp': invalid syntax"},
		{"/udp", client.ForwardedPort{}, "error parsing remote port '': invalid syntax"},
	} {
		got, err := ParsePort(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParsePort(%q): got %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePort(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParsePort: never panics; what it accepts has a remote port and
// prints back to an argument that parses to the same forward.
func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"80", "8080:80", ":80", "0:80", "65536", "x:80", "1:2:3", "", "80:", "0", "+1:-2", "٣", "5353:53/udp", "80/TCP", "1/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			return
		}
		if p.Remote == 0 {
			t.Fatalf("ParsePort(%q) accepted remote 0", s)
		}
		suffix := ""
		if p.Protocol == client.ProtocolUDP {
			suffix = "/udp"
		}
		back, err := ParsePort(fmt.Sprintf("%d:%d%s", p.Local, p.Remote, suffix))
		if err != nil || back != p {
			t.Fatalf("ParsePort(%q) = %v, but its printed form gives %v, %v", s, p, back, err)
		}
	})
}

// startNode serves pod "p" from porthole serve (API, gateway and node) on
// 127.0.0.1 and returns the kubeconfig it wrote: the command reads the
// pod before it forwards, as kubectl does.
func startNode(t *testing.T) string { return startServe(t, nil) }

// startServe is startNode with rt (nil: serve's own local runtime) running
// the pods.
func startServe(t *testing.T, rt serve.Runtime) string {
	t.Helper()
	return clitest.Serve(t, serve.Options{Pods: []*kube.Pod{streamtest.SleepPod("p")}, Runtime: rt})
}

// echoPort listens on 127.0.0.1 and echoes every connection.
func echoPort(t *testing.T) int { return int(streamtest.EchoServer(t)) }

// syncBuffer is a bytes.Buffer safe for the command's and the test's
// goroutines, with a wait for content.
type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// await waits for re to match and returns the submatches.
func (s *syncBuffer) await(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	for {
		s.mu.Lock()
		m := re.FindStringSubmatch(s.b.String())
		ch := s.changed
		s.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("no match for %s in %q", re, s.String())
		}
	}
}

var forwardingLine = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)\n`)

// TestRunExec: --exec starts once the port is bound, the forward works
// while it runs, its exit code comes back, and the progress lines go to
// stderr.
func TestRunExec(t *testing.T) {
	kc := startNode(t)
	remote := echoPort(t)
	stdinR, stdinW := io.Pipe()
	out, errOut := newSyncBuffer(), newSyncBuffer()
	ios := &iostreams.IOStreams{In: stdinR, Out: out, ErrOut: errOut}
	root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, nil))
	root.SetArgs([]string{"port-forward", "--kubeconfig", kc, "--address", "127.0.0.1", "p", fmt.Sprintf(":%d", remote),
		"--exec", `echo "port=$PORTHOLE_PORT ports=$PORTHOLE_PORTS"; read x; echo "got $x"; exit 4`})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(context.Background()) }()

	m := errOut.await(t, forwardingLine)
	local := m[1]
	out.await(t, regexp.MustCompile(`port=`+local+` ports=`+local+`\n`))
	c, err := net.Dial("tcp", "127.0.0.1:"+local)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "ping")
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(got) != "ping" {
		t.Errorf("through the forward: got %q, %v", got, err)
	}
	io.WriteString(stdinW, "line\n")
	stdinW.Close()
	var coded interface{ ExitCode() int }
	select {
	case err := <-done:
		if !errors.As(err, &coded) || coded.ExitCode() != 4 {
			t.Fatalf("got %v, want exit code 4", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("port-forward --exec did not end")
	}
	if !strings.Contains(out.String(), "got line\n") {
		t.Errorf("stdout %q lacks the command's output", out.String())
	}
	if !strings.Contains(errOut.String(), "Handling connection for "+local+"\n") {
		t.Errorf("stderr %q lacks the Handling connection line", errOut.String())
	}
}

// TestRunForwardsUntilCancelled: without --exec the lines go to stdout and
// cancelling ends the command with no error.
func TestRunForwardsUntilCancelled(t *testing.T) {
	kc := startNode(t)
	remote := echoPort(t)
	out, errOut := newSyncBuffer(), newSyncBuffer()
	ios := &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}
	root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, nil))
	root.SetArgs([]string{"port-forward", "--kubeconfig", kc, "--protocol", "spdy", "pod/p", fmt.Sprintf(":%d", remote)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	m := out.await(t, forwardingLine)
	if m[2] != fmt.Sprint(remote) {
		t.Errorf("forwarding to %s, want %d", m[2], remote)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+m[1])
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "pong")
	c.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "pong" {
		t.Errorf("through the forward: got %q, %v", got, err)
	}
	c.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after cancel: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("port-forward did not end after cancel")
	}
}

// TestRunUnknownPod: the server's refusal is the command's error, and
// --exec never runs.
func TestRunUnknownPod(t *testing.T) {
	kc := startNode(t)
	ios, _, out, _ := iostreams.Test()
	root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, nil))
	root.SetArgs([]string{"port-forward", "--kubeconfig", kc, "nope", "80", "--exec", "echo ran"})
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), `pods "nope" not found`) {
		t.Errorf("got %v, want pods \"nope\" not found", err)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) || strings.Contains(out.String(), "ran") {
		t.Errorf("--exec ran: %q", out.String())
	}
}

var udpForwardingLine = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/udp\n`)

// TestRunUDPDNS: `port-forward pod/p :PORT/udp :PORT` forwards a DNS
// server's UDP port and a TCP port in one command, on both wires: Go's
// resolver gets the pod's answer through the local port, and the TCP port
// echoes.
func TestRunUDPDNS(t *testing.T) {
	kc := startNode(t)
	dns := streamtest.DNSServer(t, map[string]netip.Addr{"db.porthole.test.": netip.MustParseAddr("192.0.2.7")})
	tcp := echoPort(t)
	for _, wire := range []string{"websocket", "spdy"} {
		t.Run(wire, func(t *testing.T) {
			out, errOut := newSyncBuffer(), newSyncBuffer()
			ios := &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}
			root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, nil))
			root.SetArgs([]string{"port-forward", "--kubeconfig", kc, "--protocol", wire, "--address", "127.0.0.1",
				"pod/p", fmt.Sprintf(":%d/udp", dns), fmt.Sprintf(":%d", tcp)})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- root.ExecuteContext(ctx) }()
			m := out.await(t, udpForwardingLine)
			tm := out.await(t, forwardingLine)
			r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "udp", "127.0.0.1:"+m[1])
			}}
			lctx, lcancel := context.WithTimeout(ctx, time.Minute)
			defer lcancel()
			addrs, err := r.LookupHost(lctx, "db.porthole.test.")
			if err != nil || !slices.Equal(addrs, []string{"192.0.2.7"}) {
				t.Errorf("lookup through the forward: got %v, %v; want [192.0.2.7]", addrs, err)
			}
			c, err := net.Dial("tcp", "127.0.0.1:"+tm[1])
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "tcp too")
			c.(*net.TCPConn).CloseWrite()
			if got, err := io.ReadAll(c); err != nil || string(got) != "tcp too" {
				t.Errorf("tcp port: got %q, %v", got, err)
			}
			c.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("after cancel: %v (stderr %q)", err, errOut.String())
			}
		})
	}
}

// tcpOnlyRuntime is serve's local runtime without its UDP support: a
// porthole server that cannot forward UDP, as an older one.
type tcpOnlyRuntime struct{ serve.Runtime }

// TestRunUDPUnsupported: against a server that cannot forward UDP the
// command fails at once with the extension's error and binds nothing.
func TestRunUDPUnsupported(t *testing.T) {
	rt, err := localrt.New([]*kube.Pod{streamtest.SleepPod("p")}, &localrt.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	kc := startServe(t, tcpOnlyRuntime{rt})
	ios, _, out, _ := iostreams.Test()
	root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, nil))
	root.SetArgs([]string{"port-forward", "--kubeconfig", kc, "pod/p", ":53/udp"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = root.ExecuteContext(ctx)
	if !errors.Is(err, client.ErrUDPUnsupported) {
		t.Fatalf("got %v, want %v", err, client.ErrUDPUnsupported)
	}
	if strings.Contains(out.String(), "Forwarding from") {
		t.Errorf("stdout %q: something was bound", out.String())
	}
}

// TestUDPIdleTimeoutFlag: --udp-idle-timeout defaults to the client's
// default, takes a duration and refuses one that is not positive.
func TestUDPIdleTimeoutFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
		err  string
	}{
		{nil, client.DefaultUDPIdleTimeout, ""},
		{[]string{"--udp-idle-timeout", "5s"}, 5 * time.Second, ""},
		{[]string{"--udp-idle-timeout", "0"}, 0, "--udp-idle-timeout must be positive"},
		{[]string{"--udp-idle-timeout", "-1m"}, 0, "--udp-idle-timeout must be positive"},
	} {
		ios, _, _, _ := iostreams.Test()
		var got *Options
		root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error { got = o; return nil }))
		root.SetArgs(append([]string{"port-forward", "dns", "53/udp"}, tc.args...))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		err := root.Execute()
		if tc.err != "" {
			var fe *cli.FlagError
			if err == nil || err.Error() != tc.err || !errors.As(err, &fe) {
				t.Errorf("%v: got %v, want FlagError %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || got.UDPIdleTimeout != tc.want {
			t.Errorf("%v: got %v, %v; want %v", tc.args, got.UDPIdleTimeout, err, tc.want)
		}
	}
}
