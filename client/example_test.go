package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// Run `date` in a pod as kubectl would: the cluster from the kubeconfig,
// WebSocket first with SPDY only if the server refuses the upgrade, and the
// remote exit code handed on.
func ExampleClient_Exec() {
	home, _ := os.UserHomeDir()
	cc, err := kubeconfig.Load(&kubeconfig.LoadOptions{Env: os.Getenv("KUBECONFIG"), Home: home})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	cfg, err := client.ConfigFromKubeconfig(cc, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	err = c.Exec(context.Background(), &client.ExecOptions{
		Namespace: cc.Namespace, Pod: "demo", Command: []string{"date"},
		StreamOptions: client.StreamOptions{Stdout: os.Stdout, Stderr: os.Stderr},
	})
	var exit *client.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.Code)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
	}
}
