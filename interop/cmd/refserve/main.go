// Command refserve is a stand-in for `porthole serve` built from the real
// Kubernetes pieces, so the interop harness and its tests can be checked
// against known-good peers: it takes the same flags (--listen, -f,
// --write-kubeconfig), serves what kubectl needs from an API server
// (/version, discovery, pod get/list from the manifest, /readyz), and hands
// exec/attach/portforward to the criref reference node (cri-streaming plus
// the kubelet's WebSocket translator) through the API server's own
// upgrade-aware proxy. Container names are checked the way the API server
// checks them.
//
// Select it for a run with INTEROP_TARGET=reference (see the harness).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/porthole/porthole/interop/criref"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "refserve:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return errors.New("usage: refserve serve --listen ADDR -f pods.yaml --write-kubeconfig PATH")
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	manifest := fs.String("f", "", "pods manifest")
	kubeconfig := fs.String("write-kubeconfig", "", "kubeconfig to write")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	pods, err := readPods(*manifest)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	node, err := criref.Start(ctx, &criref.Options{Containers: containers(pods), Logger: log})
	if err != nil {
		return fmt.Errorf("start reference node: %w", err)
	}
	defer node.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	api, err := newAPI(pods, node.URL())
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ErrorLog: nil}
	if *kubeconfig != "" {
		if err := writeKubeconfig(*kubeconfig, "http://"+ln.Addr().String()); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	_ = srv.Close()
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func writeKubeconfig(path, server string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["ref"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["ref"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["ref"] = &clientcmdapi.Context{Cluster: "ref", AuthInfo: "ref", Namespace: "default"}
	cfg.CurrentContext = "ref"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
