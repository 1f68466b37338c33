// Command controlplane runs a real Kubernetes control plane for the interop
// suites: etcd (embedded, go.etcd.io/etcd/server/v3/embed) and the
// kube-apiserver of k8s.io/kubernetes, in one process, on loopback ports
// the kernel picks. It is a test peer, in a module of its own so that the
// API server's dependencies stay out of the suites' module.
//
// Usage: controlplane -data DIR -- KUBE-APISERVER-FLAGS...
//
// It prints "etcd URL", a "gate NAME=BOOL" line for each streaming feature
// gate, and then "apiserver https://127.0.0.1:PORT" on stdout, and runs until SIGTERM or SIGINT (or its stdin
// closing, so that a test that dies takes its control plane with it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/component-base/featuregate"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// streamingGates are the API server's gates that decide how it streams.
var streamingGates = []featuregate.Feature{
	"TranslateStreamCloseWebsocketRequests", "PortForwardWebsockets",
	"ExtendWebSocketsToKubelet", "NodeDeclaredFeatures", "AuthorizePodWebsocketUpgradeCreatePermission",
}

func main() {
	data := flag.String("data", "", "directory for etcd's data (required)")
	flag.Parse()
	if *data == "" {
		fmt.Fprintln(os.Stderr, "controlplane: -data is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The parent holds our stdin: its end is ours.
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := run(ctx, *data, flag.Args()); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "controlplane: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data string, apiserverArgs []string) error {
	etcdURL, stopEtcd, err := startEtcd(filepath.Join(data, "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer stopEtcd()
	fmt.Printf("etcd %s\n", etcdURL)

	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, f := range s.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	logs.AddFlags(fs, logs.SkipLoggingConfigurationFlags())
	if err := fs.Parse(append([]string{"--etcd-servers=" + etcdURL}, apiserverArgs...)); err != nil {
		return fmt.Errorf("kube-apiserver flags: %w", err)
	}
	// Our own listener, so the port is the kernel's choice and never raced.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.SecureServing.Listener = ln
	s.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	s.SecureServing.ExternalAddress = net.IPv4(127, 0, 0, 1)

	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	gate := s.GenericServerRunOptions.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	if err := logsapi.ValidateAndApply(s.Logs, gate); err != nil {
		return err
	}
	// The streaming gates, for the suite to record and check.
	for _, f := range streamingGates {
		fmt.Printf("gate %s=%t\n", f, gate.Enabled(f))
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return fmt.Errorf("kube-apiserver options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return fmt.Errorf("kube-apiserver options: %w", utilerrors.NewAggregate(errs))
	}
	fmt.Printf("apiserver https://%s\n", ln.Addr())
	return app.Run(ctx, completed)
}

// startEtcd starts a single-member etcd on loopback ports of the kernel's
// choosing and returns its client URL.
func startEtcd(dir string) (string, func(), error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Name = "controlplane"
	cfg.LogLevel = "error"
	cfg.Logger = "zap"
	local := func() []url.URL { return []url.URL{{Scheme: "http", Host: "127.0.0.1:0"}} }
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = local(), local()
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = local(), local()
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return "", nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return "", nil, errors.New("not ready after 60s")
	}
	return "http://" + e.Clients[0].Addr().String(), e.Close, nil
}
