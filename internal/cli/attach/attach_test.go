package attach

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

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
		{name: "simple", args: "attach p", want: Options{Pod: "p", DetachKeys: "ctrl-p,ctrl-q"}},
		{name: "all", args: "attach -it -c c -q --detach-keys ctrl-a,x pods/p", want: Options{Pod: "p", Container: "c", Stdin: true, TTY: true, Quiet: true, DetachKeys: "ctrl-a,x"}},
		{name: "none", args: "attach", wantErr: "at least 1 argument is required for attach"},
		{name: "two", args: "attach a b", wantErr: "expected POD or TYPE/NAME, saw 2 arguments: [a b]"},
		{name: "bad keys", args: "attach --detach-keys ctrl-1 p", wantErr: `--detach-keys: unknown detach key "ctrl-1"`},
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
			if got.Pod != tc.want.Pod || got.Container != tc.want.Container || got.Stdin != tc.want.Stdin ||
				got.TTY != tc.want.TTY || got.Quiet != tc.want.Quiet || got.DetachKeys != tc.want.DetachKeys {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	pods := []*kube.Pod{{ObjectMeta: kube.ObjectMeta{Name: "reader", Namespace: "default"},
		Spec: kube.PodSpec{RestartPolicy: "Never", Containers: []kube.Container{{Name: "c", Stdin: true, StdinOnce: true,
			Command: []string{"sh", "-c", "read x; echo got $x"}}}}}}
	kc := clitest.Serve(t, serve.Options{Pods: pods})
	run := func(args ...string) (string, string, error) {
		ios, in, out, errOut := iostreams.Test()
		in.WriteString("hi\n")
		root := clitest.Root(NewCmd(&cli.Factory{IOStreams: ios}, nil))
		root.SetArgs(append([]string{"attach", "--kubeconfig", kc}, args...))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err := root.ExecuteContext(ctx)
		return out.String(), errOut.String(), err
	}
	// The container may not run yet; attach is refused until it does.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, err := run("-i", "reader")
		if err == nil {
			if out != "got hi\n" || !strings.HasSuffix(errOut, "If you don't see a command prompt, try pressing enter.\n") {
				t.Errorf("stdout %q stderr %q, want \"got hi\\n\" and kubectl's prompt hint", out, errOut)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attach never succeeded: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling for the container to start
	}
}
