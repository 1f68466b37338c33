package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// Download a directory from a pod as `kubectl cp --retries 3` would, but
// refusing any archive entry that could land outside ./logs.
func ExampleClient_Copy() {
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
	err = c.Copy(context.Background(), &client.CopyOptions{
		Namespace: cc.Namespace, Pod: "web", Container: "app",
		Direction: client.FromContainer, Remote: "/var/log/app", Local: "logs",
		Retries: 3, Stdout: os.Stdout,
	})
	var unsafe *client.UnsafeEntryError
	switch {
	case errors.As(err, &unsafe):
		fmt.Fprintln(os.Stderr, "hostile archive:", unsafe)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
	}
}
