package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
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

// Forward local UDP port 5353 to a DNS server on port 53 of pod "dns"
// (porthole's extension: the server must be a porthole node or gateway),
// then query it with Go's resolver. Against the kubelet, PortForward
// returns client.ErrUDPUnsupported at once.
func ExampleClient_PortForward_udp() {
	c, err := client.New(&client.Config{Host: "https://127.0.0.1:6443", BearerToken: os.Getenv("TOKEN")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err = c.PortForward(ctx, &client.PortForwardOptions{
		Pod:   "dns",
		Ports: []client.ForwardedPort{{Local: 5353, Remote: 53, Protocol: client.ProtocolUDP}},
		Ready: func([]client.ForwardedPort) {
			r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "udp", "127.0.0.1:5353")
			}}
			go func() {
				addrs, err := r.LookupHost(ctx, "kubernetes.default.svc.cluster.local.")
				fmt.Println(addrs, err)
				stop()
			}()
		},
	})
	if errors.Is(err, client.ErrUDPUnsupported) {
		fmt.Fprintln(os.Stderr, "this server forwards TCP only")
	}
}
