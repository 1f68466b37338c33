package portforward

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/porthole/porthole/client"
)

// runExec forwards, runs o.Exec once the ports are bound, then stops the
// forward. The command's *exec.ExitError carries its code to the root
// command's exit-code mapping; a forward that fails before it is ready
// returns its error and runs nothing.
func runExec(ctx context.Context, c *client.Client, pf *client.PortForwardOptions, o *Options) error {
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan []client.ForwardedPort, 1)
	pf.Ready = func(p []client.ForwardedPort) { ready <- p }
	done := make(chan error, 1)
	go forward(fctx, c, pf, done)
	var ports []client.ForwardedPort
	select {
	case ports = <-ready:
	case err := <-done:
		return err
	}
	err := runCommand(ctx, o, ports)
	stop()
	if ferr := <-done; ferr != nil && err == nil {
		err = ferr
	}
	return err
}

func forward(ctx context.Context, c *client.Client, pf *client.PortForwardOptions, done chan<- error) {
	done <- c.PortForward(ctx, pf)
}

// runCommand runs the shell command with the forward's ports in its
// environment and the terminal's streams.
func runCommand(ctx context.Context, o *Options, ports []client.ForwardedPort) error {
	locals := make([]string, len(ports))
	for i, p := range ports {
		locals[i] = strconv.Itoa(int(p.Local))
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", o.Exec)
	cmd.Env = append(os.Environ(), "PORTHOLE_PORT="+locals[0], "PORTHOLE_PORTS="+strings.Join(locals, ","))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.IO.In, o.IO.Out, o.IO.ErrOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return fmt.Errorf("run --exec command: %w", err)
}
