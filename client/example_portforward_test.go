package client_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/porthole/porthole/client"
)

// Forward a free local port to port 80 of pod "web" until Ctrl-C, printing
// kubectl's lines. If the API server restarts, the local port stays open
// and the forward reconnects by itself.
func ExampleClient_PortForward() {
	c, err := client.New(&client.Config{Host: "https://127.0.0.1:6443", BearerToken: os.Getenv("TOKEN")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err = c.PortForward(ctx, &client.PortForwardOptions{
		Pod:   "web",
		Ports: []client.ForwardedPort{{Local: 0, Remote: 80}},
		Ready: func(ports []client.ForwardedPort) {
			fmt.Fprintf(os.Stderr, "try: curl http://localhost:%d/\n", ports[0].Local)
		},
		Events: client.PrintEvents(os.Stdout, os.Stderr),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
}
