package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Env is what a test package's TestMain sets up once per `go test` run:
// freshly built binaries, one running server and the test data.
type Env struct {
	Dir      string // temporary; removed by Close
	Porthole string // server binary under test (porthole, or refserve; see TargetEnv)
	Kubectls []Kubectl
	Server   *Server
	// Data is the 64 MiB output payload; Input the 16 MiB stdin payload.
	Data, Input *DataFile
}

// SetupOptions choose what Setup prepares.
type SetupOptions struct {
	// Kubectl builds kubectl137 and lists the installed kubectl versions.
	Kubectl bool
	// DataSize is the output payload size (default 64 MiB).
	DataSize int64
	// InputSize is the stdin payload size (default 16 MiB).
	InputSize int64
	// HTTPS runs serve as a user does: HTTPS from its own authority, the
	// generated token required (certificates kept in the Env's Dir). By
	// default serve runs --plain-http, so the gateway and fault tests can
	// stand in front of it over plain HTTP.
	HTTPS bool
	// ServeArgs are more flags for `porthole serve`.
	ServeArgs []string
}

// Setup builds porthole (and kubectl137), writes the data files and starts
// the server. On error everything already started is stopped.
func Setup(ctx context.Context, opts SetupOptions) (_ *Env, err error) {
	if opts.DataSize == 0 {
		opts.DataSize = 64 * MiB
	}
	if opts.InputSize == 0 {
		opts.InputSize = 16 * MiB
	}
	dir, err := os.MkdirTemp("", "porthole-interop-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	e := &Env{Dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	if e.Porthole, err = BuildTarget(ctx, dir); err != nil {
		return e, err
	}
	if opts.Kubectl {
		k137, err := BuildKubectl137(ctx, dir)
		if err != nil {
			return e, err
		}
		e.Kubectls = FindKubectls(k137)
		if err := RequireKubectls(e.Kubectls); err != nil {
			return e, err
		}
	}
	if e.Data, err = WriteDataFile(filepath.Join(dir, "data.bin"), opts.DataSize, 1); err != nil {
		return e, err
	}
	if e.Input, err = WriteDataFile(filepath.Join(dir, "input.bin"), opts.InputSize, 2); err != nil {
		return e, err
	}
	serveArgs := []string{"--plain-http"}
	if opts.HTTPS {
		serveArgs = []string{"--cert-dir", filepath.Join(dir, "serve-certs")}
	}
	serveArgs = append(serveArgs, opts.ServeArgs...)
	if e.Server, err = StartServer(ctx, e.Porthole, dir, serveArgs...); err != nil {
		return e, err
	}
	return e, nil
}

// Close stops the server (reporting an unclean exit) and removes Dir.
func (e *Env) Close() error {
	var err error
	if e.Server != nil {
		err = e.Server.Stop()
		e.Server = nil
	}
	return errors.Join(err, os.RemoveAll(e.Dir))
}

// MainExit runs the tests of a package between Setup and Close and returns
// the process exit code: a failed Setup or an unclean server exit fails
// the run. after, if not nil, runs once everything is stopped (a goroutine
// leak check) and fails the run with its error.
func MainExit(run func() int, opts SetupOptions, set func(*Env), after func() error) int {
	e, err := Setup(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop setup failed: %v\n", err)
		return 1
	}
	set(e)
	code := run()
	if err := e.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "interop teardown: %v\n", err)
		code = 1
	}
	if after != nil && code == 0 {
		if err := after(); err != nil {
			fmt.Fprintf(os.Stderr, "interop: %v\n", err)
			code = 1
		}
	}
	return code
}
