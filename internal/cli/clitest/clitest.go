// Package clitest runs porthole's one-process cluster for the commands'
// tests, which drive them against it as a user would.
package clitest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/kube/kubeconfig"
	"github.com/porthole/porthole/serve"
)

// Root is a root command holding cmd, as porthole's root holds it: the
// global flags, flag errors as usage errors, errors left to the caller.
func Root(cmd *cobra.Command) *cobra.Command {
	root := &cobra.Command{Use: "porthole", SilenceErrors: true, SilenceUsage: true}
	cli.AddGlobalFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.FlagError{Err: err} })
	root.AddCommand(cmd)
	return root
}

// readyWriter signals when the server printed its banner.
type readyWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

// Serve runs `porthole serve` in process with opts (its pods, runtime,
// gateway options) on loopback until the test ends, and returns the
// kubeconfig it wrote once it listens. The pods' processes start on their
// own time: see AwaitRunning.
func Serve(t *testing.T, opts serve.Options) string {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	ready := &readyWriter{ready: make(chan struct{})}
	opts.Listen, opts.KubeconfigPath, opts.Out = "127.0.0.1:0", kc, ready
	srv, err := serve.New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case <-ready.ready:
	case err := <-done:
		t.Fatalf("serve ended before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve not ready")
	}
	return kc
}

// AwaitRunning polls the server of kc until every container of each
// named pod (in namespace default) runs.
func AwaitRunning(t *testing.T, kc string, pods ...string) {
	t.Helper()
	c := Client(t, kc)
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range pods {
		for {
			got, err := c.GetPod(context.Background(), "default", name)
			if err != nil {
				t.Fatal(err)
			}
			running := 0
			for _, s := range got.Status.ContainerStatuses {
				if s.State.Running != nil {
					running++
				}
			}
			if running == len(got.Spec.Containers) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s: %d of %d containers running", name, running, len(got.Spec.Containers))
			}
			time.Sleep(20 * time.Millisecond) // polling the server's state, not ordering events
		}
	}
}

// Client is a client of the kubeconfig's server.
func Client(t *testing.T, kc string) *client.Client {
	t.Helper()
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Path: kc})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := client.ConfigFromKubeconfig(cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
