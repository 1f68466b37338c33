// Command bench compares porthole's node with the reference node (the
// kubelet's streaming libraries, see package criref) in one run and prints
// a table of figures and ratios. Both servers run as separate processes
// built from this checkout; both are driven by client-go v0.37.
//
// Run from the interop directory:
//
//	go run ./cmd/bench [-size 1073741824] [-runs 3] [-latency 50] [-idle 200] [-cp-size 1073741824] [-quick] [-json FILE]
//
// Progress goes to stderr, the table to stdout, and with -json the same
// figures (medians, min, max, ratios, goals met) to FILE for machines.
// -quick sizes the run to finish in about two minutes: for a look, not
// for the figures of a note.
//
// If porthole cannot be built or started, the reference column is still
// measured and porthole's cells say why they are missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/go-logr/logr"
	"github.com/porthole/porthole/interop/bench"
	"github.com/porthole/porthole/interop/internal/harness"
	"k8s.io/klog/v2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg bench.Config
	flag.Int64Var(&cfg.ThroughputBytes, "size", 1<<30, "bytes per throughput exec")
	flag.IntVar(&cfg.ThroughputRuns, "runs", 3, "throughput runs per cell (median, min and max shown)")
	flag.IntVar(&cfg.LatencyRuns, "latency", 50, "execs of `true` per latency cell (median is kept)")
	flag.IntVar(&cfg.IdleSessions, "idle", 200, "idle sessions per memory cell")
	flag.IntVar(&cfg.HeldSessions, "held", 10000, "idle WebSocket sessions one server holds at once (-1: skip)")
	flag.IntVar(&cfg.HeldSPDYSessions, "held-spdy", 1000, "idle SPDY sessions one server holds at once (-1: skip)")
	repo := flag.String("repo", "..", "porthole checkout (module root)")
	interop := flag.String("interop", ".", "interop module root")
	porthole := flag.String("porthole", "", "prebuilt porthole binary (default: build from -repo)")
	verbose := flag.Bool("v", false, "also print the servers' logs (on stderr)")
	quick := flag.Bool("quick", false, "small sizes: about two minutes, for a look")
	jsonOut := flag.String("json", "", "also write the figures as JSON to this file")
	flag.Int64Var(&cfg.CopyBytes, "cp-size", 1<<30, "bytes of the file the cp rows copy each way")
	kubectl := flag.String("kubectl", "", "kubectl binary of the cp rows (default: the newest on this machine)")
	flag.Parse()
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"size": "33554432", "runs": "3", "latency": "10", "idle": "30", "held": "200", "held-spdy": "30", "cp-size": "33554432"} {
			if !set[name] {
				_ = flag.Set(name, v)
			}
		}
	}

	// Each held session costs the servers a few descriptors (socket, pipes)
	// and the bench one; the servers inherit this process's limit.
	want := uint64(8*max(cfg.HeldSessions, cfg.HeldSPDYSessions) + 4096)
	if got, err := bench.RaiseFileLimit(want); err != nil || got < want {
		fmt.Fprintf(os.Stderr, "bench: open-file limit %d (wanted %d): %v; the held-session rows hold as many sessions as fit\n", got, want, err)
	}

	// client-go logs every closed connection through klog.
	klog.SetLogger(logr.Discard())
	cfg.Progress = os.Stderr
	logs := io.Discard
	if *verbose {
		logs = os.Stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := os.MkdirTemp("", "porthole-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	crirefd := filepath.Join(dir, "crirefd")
	if err := bench.Build(ctx, *interop, "./cmd/crirefd", crirefd); err != nil {
		return err
	}
	subject := bench.Target{Name: "porthole", Start: func(ctx context.Context) (*bench.Node, error) {
		return bench.StartPorthole(ctx, *porthole, dir, logs)
	}}
	if *porthole == "" {
		bin := filepath.Join(dir, "porthole")
		if err := bench.Build(ctx, *repo, "./cmd/porthole", bin); err != nil {
			fmt.Fprintln(os.Stderr, "bench: porthole not measured:", err)
			subject.Start = func(context.Context) (*bench.Node, error) { return nil, errors.New("porthole did not build") }
		} else {
			*porthole = bin
		}
	}
	if *porthole != "" {
		bin := *porthole
		cfg.Translator = func(ctx context.Context, up *bench.Node) (*bench.Node, error) {
			return bench.StartGateway(ctx, bin, up, logs)
		}
	}
	cfg.Porthole, cfg.Kubectl, cfg.Dir = *porthole, *kubectl, dir
	if cfg.Kubectl == "" {
		// FindKubectls lists the 1.37 build last, with no path here.
		for _, k := range harness.FindKubectls("") {
			if k.Path != "" {
				cfg.Kubectl = k.Path
			}
		}
	}
	if cfg.Kubectl == "" {
		fmt.Fprintln(os.Stderr, "bench: no kubectl found; the cp rows are skipped")
	}
	ref := bench.Target{Name: "kubelet-lib", Start: func(ctx context.Context) (*bench.Node, error) {
		return bench.StartReference(ctx, crirefd, logs)
	}}
	table := bench.Run(ctx, &cfg, []bench.Target{subject, ref})
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			return err
		}
		if err := errors.Join(table.WriteJSON(f), f.Close()); err != nil {
			return fmt.Errorf("write %s: %w", *jsonOut, err)
		}
	}
	return table.Write(os.Stdout)
}
