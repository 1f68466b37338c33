package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/protocol/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"usage", cli.FlagErrorf("bad flag"), 1},
		{"remote", &status.ExitError{Code: 42}, 42},
		{"remote-wrapped", fmt.Errorf("exec: %w", &status.ExitError{Code: 7}), 7},
		{"remote-255", &status.ExitError{Code: 255}, 255},
		{"remote-zero", &status.ExitError{Code: 0}, 1},
		{"remote-out-of-range", &status.ExitError{Code: 300}, 1},
		{"sigint", &SignalError{Signal: syscall.SIGINT}, 130},
		{"sigterm", fmt.Errorf("wrapped: %w", &SignalError{Signal: syscall.SIGTERM}), 143},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		code         int
		stdout       string
		stderr       string
		stdoutPrefix bool
	}{
		{name: "version", args: []string{"--version"}, code: 0, stdout: "porthole version dev\n"},
		{name: "unknown-flag", args: []string{"--bogus"}, code: 1, stderr: "error: unknown flag: --bogus\nSee 'porthole --help' for usage.\n"},
		{name: "unknown-command", args: []string{"frobnicate"}, code: 1, stderr: "error: unknown command \"frobnicate\" for \"porthole\"\nSee 'porthole --help' for usage.\n"},
		{name: "serve-argument", args: []string{"serve", "x.yaml"}, code: 1,
			stderr: "error: unexpected argument \"x.yaml\": manifests are given with -f\nSee 'porthole serve --help' for usage.\n"},
		{name: "serve-bad-flag-value", args: []string{"serve", "-v", "lots"}, code: 1,
			stderr: "error: invalid argument \"lots\" for \"-v, --v\" flag: strconv.ParseInt: parsing \"lots\": invalid syntax\nSee 'porthole serve --help' for usage.\n"},
		{name: "serve-not-loopback", args: []string{"serve", "--listen", "[::]:0", "--write-kubeconfig="}, code: 1,
			stderr: "error: refusing to listen on \"[::]:0\" (::): without authentication porthole serves loopback addresses only (127.0.0.1, ::1 or localhost)\n"},
		{name: "help", args: nil, code: 0, stdout: "Kubernetes exec, attach and port-forward, client and server\n", stdoutPrefix: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			f := &cli.Factory{IOStreams: ios, ConfigDir: func() (string, error) { return t.TempDir(), nil }}
			code := Run(context.Background(), f, tc.args)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			gotOut := out.String()
			if tc.stdoutPrefix && len(gotOut) > len(tc.stdout) {
				gotOut = gotOut[:len(tc.stdout)]
			}
			if gotOut != tc.stdout {
				t.Errorf("stdout %q, want %q", out, tc.stdout)
			}
			if errOut.String() != tc.stderr {
				t.Errorf("stderr %q, want %q", errOut, tc.stderr)
			}
		})
	}
}

// TestNotifyContext: a signal cancels the context with a *SignalError
// naming it, and stop joins the watcher.
func TestNotifyContext(t *testing.T) {
	ctx, stop := notifyContext(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	var sig *SignalError
	if !errors.As(context.Cause(ctx), &sig) || sig.Signal != syscall.SIGINT {
		t.Fatalf("cause %v, want SIGINT", context.Cause(ctx))
	}
	if got := ExitCode(context.Cause(ctx)); got != 130 {
		t.Errorf("exit code %d, want 130", got)
	}
}

func TestNotifyContextStopWithoutSignal(t *testing.T) {
	ctx, stop := notifyContext(context.Background())
	stop()
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Errorf("cause after stop: %v, want context.Canceled", context.Cause(ctx))
	}
}
