package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/porthole/porthole/client"
)

// selfCPU is the CPU time this process has used so far (user + system):
// the client's cost while an in-process client is all that runs here.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// PortholeThroughput is Throughput with porthole's own client
// (client.Exec) in place of client-go's executor, at the API-server path
// of n over w (WebSocket v5 or SPDY).
func PortholeThroughput(ctx context.Context, n *Node, w Wire, size int64) (Speed, error) {
	c, err := client.New(&client.Config{Host: n.URL})
	if err != nil {
		return Speed{}, err
	}
	wire := client.WireWebSocket
	if w == SPDY {
		wire = client.WireSPDY
	}
	var out counter
	var errOut bytes.Buffer
	opts := &client.ExecOptions{Namespace: podNamespace, Pod: podName, Container: containerName,
		Command:       []string{"head", "-c", strconv.FormatInt(size, 10), "/dev/zero"},
		StreamOptions: client.StreamOptions{Stdout: &out, Stderr: &errOut, Wire: wire}}
	return timed(n, size, &out, func() error {
		if err := c.Exec(ctx, opts); err != nil {
			return fmt.Errorf("porthole client exec: %w (stderr %q)", err, errOut.Bytes())
		}
		return nil
	})
}

// timed runs f, which should leave size bytes in out, and returns its
// speed, n's CPU and this process's (the client's) CPU meanwhile.
func timed(n *Node, size int64, out *counter, f func() error) (Speed, error) {
	cpu0, err := n.CPU()
	if err != nil {
		return Speed{}, err
	}
	self0, err := selfCPU()
	if err != nil {
		return Speed{}, err
	}
	start := time.Now()
	err = f()
	elapsed := time.Since(start)
	self1, selfErr := selfCPU()
	cpu1, cpuErr := n.CPU()
	if err != nil {
		return Speed{}, err
	}
	if got := out.n.Load(); got != size {
		return Speed{}, fmt.Errorf("got %d bytes, want %d", got, size)
	}
	if cpuErr == nil {
		cpuErr = selfErr
	}
	return Speed{MBps: float64(size) / elapsed.Seconds() / 1e6, CPU: cpu1 - cpu0, ClientCPU: self1 - self0}, cpuErr
}
