// Command crirefd runs the criref reference node (the kubelet's streaming
// libraries serving local processes) as its own process, so that its memory
// can be measured apart from the client's.
//
// It prints one JSON line on stdout once it serves,
//
//	{"url":"http://127.0.0.1:PORT","pid":1234}
//
// and runs until SIGINT or SIGTERM. Exec at URL as at an API server
// (/api/v1/namespaces/NS/pods/POD/exec?command=...: WebSocket v5 goes
// through the 1.37 translator, SPDY through the kubelet's proxy) or mint
// one-time CRI URLs with POST URL/criref/exec (see criref.Server).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/porthole/porthole/interop/criref"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crirefd:", err)
		os.Exit(1)
	}
}

// containerFlag collects -container ID=ARGV (argv split on spaces).
type containerFlag []criref.Container

func (f *containerFlag) String() string { return fmt.Sprint(len(*f)) }

func (f *containerFlag) Set(v string) error {
	id, argv, ok := strings.Cut(v, "=")
	if !ok || strings.Count(id, "/") != 2 || strings.TrimSpace(argv) == "" {
		return fmt.Errorf("want NS/POD/CONTAINER=COMMAND, got %q", v)
	}
	*f = append(*f, criref.Container{ID: id, Command: strings.Fields(argv), Stdin: true})
	return nil
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	var containers containerFlag
	flag.Var(&containers, "container", "declare a long-running container for attach: NS/POD/CONTAINER=COMMAND (repeatable)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := criref.Start(ctx, &criref.Options{Addr: *listen, Containers: containers, Logger: log})
	if err != nil {
		return err
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]any{"url": s.URL(), "pid": os.Getpid()}); err != nil {
		_ = s.Close()
		return fmt.Errorf("announce: %w", err)
	}
	<-ctx.Done()
	return s.Close()
}
