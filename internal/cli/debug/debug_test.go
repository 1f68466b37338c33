package debug

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/cli/clitest"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/serve"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		want       Options
		wantErr    string
	}{
		{name: "interactive", args: "debug -it p --image=busybox",
			want: Options{Pod: "p", Image: "busybox", Stdin: true, TTY: true, Attach: true, Profile: "general"}},
		{name: "command", args: "debug pods/p --image busybox -c dbg --target main --profile netadmin --env A=1 -- sh -c true",
			want: Options{Pod: "p", Image: "busybox", Container: "dbg", Target: "main", Profile: "netadmin", Env: []string{"A=1"}, Args: []string{"sh", "-c", "true"}}},
		{name: "no attach", args: "debug -i --attach=false p --image=x", want: Options{Pod: "p", Image: "x", Stdin: true, Profile: "general"}},
		{name: "attach without stdin", args: "debug --attach p --image=x", want: Options{Pod: "p", Image: "x", Attach: true, Profile: "general"}},
		{name: "args only", args: "debug p --image=x --arguments-only -- -v", want: Options{Pod: "p", Image: "x", ArgsOnly: true, Args: []string{"-v"}, Profile: "general"}},
		{name: "no pod", args: "debug --image=x", wantErr: "NAME is required for debug"},
		{name: "two pods", args: "debug a b --image=x", wantErr: "expected POD or TYPE/NAME, saw 2 arguments: [a b]"},
		{name: "no image", args: "debug p", wantErr: "--image is required for an ephemeral container"},
		{name: "tty without stdin", args: "debug -t p --image=x", wantErr: "-i/--stdin is required for containers with -t/--tty=true"},
		{name: "bad profile", args: "debug p --image=x --profile=root", wantErr: `--profile: unknown profile "root": one of general, baseline, restricted, netadmin, sysadmin, legacy`},
		{name: "bad env", args: "debug p --image=x --env A", wantErr: `--env: "A" is not NAME=VALUE`},
		{name: "args only without args", args: "debug p --image=x --arguments-only", wantErr: "--arguments-only needs arguments after --"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error { got = o; return nil }))
			root.SetArgs(strings.Fields(tc.args))
			err := root.Execute()
			if tc.wantErr != "" {
				var fe *cli.FlagError
				if err == nil || err.Error() != tc.wantErr || !errors.As(err, &fe) {
					t.Fatalf("got %v, want usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if got.Pod != w.Pod || got.Image != w.Image || got.Container != w.Container || got.Target != w.Target ||
				got.Profile != w.Profile || !slices.Equal(got.Env, w.Env) || !slices.Equal(got.Args, w.Args) ||
				got.ArgsOnly != w.ArgsOnly || got.Stdin != w.Stdin || got.TTY != w.TTY || got.Attach != w.Attach {
				t.Errorf("got %+v, want %+v", got, w)
			}
		})
	}
}

// TestRun: porthole debug against porthole serve adds the ephemeral
// container the flags describe; -i attaches to it (stdin reaches the
// shell); --attach without -i prints all the container's output, what
// it printed before it was seen running too, following it to its end; a
// name the pod has is refused in the API server's words.
func TestRun(t *testing.T) {
	kc := clitest.Serve(t, serve.Options{Pods: []*kube.Pod{{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: kube.PodSpec{Containers: []kube.Container{{Name: "main", Command: []string{"sleep", "100000"}}}}}}})
	clitest.AwaitRunning(t, kc, "p")
	t.Setenv("KUBECONFIG", "")
	run := func(stdin string, args ...string) (string, string, error) {
		t.Helper()
		ios, in, out, errOut := iostreams.Test()
		in.WriteString(stdin)
		root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, nil))
		root.SetArgs(append([]string{"debug", "--kubeconfig", kc}, args...))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := root.ExecuteContext(ctx)
		return out.String(), errOut.String(), err
	}

	// stdinOnce is not set, as kubectl does not: the shell reads its
	// line and exits, and the attach ends with it or with stdin's end.
	out, errOut, err := run("echo in-debug $((6*7))\n", "p", "-i", "--image=busybox", "-c", "talk", "--env", "GREETING=hi", "--", "sh")
	if err != nil || !strings.Contains(errOut, "If you don't see a command prompt, try pressing enter.") {
		t.Fatalf("debug -i: %v, stderr %q", err, errOut)
	}
	// Whether the output arrived before stdin's end detached us is the
	// container runtime's race (containerd's too): the log has it.
	_ = out
	for _, tc := range []struct{ name, script, want string }{
		{"ends-at-once", "echo $GREETING-done", "-done\n"},
		{"runs-on", "echo first; sleep 0.3; echo second", "first\nsecond\n"},
	} {
		out, _, err = run("", "p", "--attach", "--image=busybox", "-c", tc.name, "--", "sh", "-c", tc.script)
		if err != nil || out != tc.want {
			t.Errorf("debug --attach, %s: %v, stdout %q; want all its output %q", tc.name, err, out, tc.want)
		}
	}
	out, errOut, err = run("", "p", "--image=busybox", "--profile=netadmin", "--target=main", "--env", "GREETING=hi", "--", "sh", "-c", "echo $GREETING")
	if err != nil || out != "" || !strings.HasPrefix(errOut, "Defaulting debug container name to debugger-") {
		t.Fatalf("debug without -i: %v, stdout %q, stderr %q", err, out, errOut)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(errOut), "Defaulting debug container name to "), ".")

	pod, err := clitest.Client(t, kc).GetPod(context.Background(), "default", "p")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(pod.Spec.EphemeralContainers, func(e kube.EphemeralContainer) bool { return e.Name == name })
	if i < 0 || len(pod.Spec.EphemeralContainers) != 4 {
		t.Fatalf("ephemeral containers %+v, want talk, ends-at-once, runs-on and %s", pod.Spec.EphemeralContainers, name)
	}
	e := pod.Spec.EphemeralContainers[i]
	if e.TargetContainerName != "main" || e.Image != "busybox" || fmt.Sprint(e.SecurityContext) != "map[capabilities:map[add:[NET_ADMIN NET_RAW]]]" ||
		len(e.Env) != 1 || e.Env[0] != (kube.EnvVar{Name: "GREETING", Value: "hi"}) || e.Stdin || e.TTY {
		t.Errorf("the container without -i: %+v", e)
	}
	// The -i container's shell ran the line it was given (it waits for
	// more, its stdin open, as the runtime keeps it).
	for deadline := time.Now().Add(30 * time.Second); ; {
		var log bytes.Buffer
		err := clitest.Client(t, kc).ContainerLog(context.Background(), client.LogOptions{Namespace: "default", Pod: "p", Container: "talk"}, &log)
		if err == nil && log.String() == "in-debug 42\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log of the -i container: %v, %q; want %q", err, log.String(), "in-debug 42\n")
		}
		time.Sleep(20 * time.Millisecond) // polling the log, not ordering events
	}

	if _, _, err := run("", "p", "--image=busybox", "-c", "main"); err == nil || !strings.Contains(err.Error(), `duplicate container name "main"`) {
		t.Errorf("a container's name: got %v, want the server's refusal", err)
	}
	if _, _, err := run("", "nope", "--image=busybox"); err == nil || err.Error() != `pods "nope" not found` {
		t.Errorf("no such pod: got %v", err)
	}
}
