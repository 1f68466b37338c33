package localrt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// Probe defaults, as the kubelet's.
const (
	defaultProbePeriod  = 10 * time.Second
	defaultProbeTimeout = time.Second
	defaultFailures     = 3
	defaultSuccesses    = 1
	maxProbeBody        = 10 << 10 // what an HTTP probe reads of a body
)

// probeLoop runs the container's readiness probe for as long as the pod
// runs: from initialDelaySeconds after each start of the main process,
// every periodSeconds, with timeoutSeconds each. The container is ready
// after successThreshold successes in a row and not ready after
// failureThreshold failures in a row, or as soon as its process is not
// running; a restarted process starts not ready, as the kubelet's prober
// does. It runs on its own goroutine, joined by Runtime.Close.
func (c *container) probeLoop(ctx context.Context) {
	defer c.pod.rt.wg.Done()
	pr := c.spec.ReadinessProbe
	period := seconds(pr.PeriodSeconds, defaultProbePeriod)
	timeout := seconds(pr.TimeoutSeconds, defaultProbeTimeout)
	failures := int(max(pr.FailureThreshold, 0))
	if failures == 0 {
		failures = defaultFailures
	}
	successes := int(max(pr.SuccessThreshold, 0))
	if successes == 0 {
		successes = defaultSuccesses
	}
	runID, okRun, badRun := "", 0, 0
	for {
		s := c.snapshot()
		if !s.running {
			c.setReady(false)
			runID = ""
			if !c.waitRunning(ctx) {
				return
			}
			continue
		}
		if s.runID != runID {
			// A new run: not ready until probed, after the initial delay.
			runID, okRun, badRun = s.runID, 0, 0
			c.setReady(false)
			delay := time.Until(s.startedAt.Add(time.Duration(pr.InitialDelaySeconds) * time.Second))
			if delay > 0 && !sleep(ctx, delay) {
				return
			}
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := c.probeOnce(pctx, pr)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			okRun, badRun = okRun+1, 0
			if okRun >= successes {
				c.setReady(true)
			}
		} else {
			okRun, badRun = 0, badRun+1
			if badRun >= failures {
				c.setReady(false)
			}
			c.pod.rt.log.Debug("readiness probe failed", "pod", c.pod.spec.Name, "namespace", c.pod.spec.Namespace,
				"container", c.spec.Name, "err", err)
			if f := c.pod.rt.opts.ProbeFailed; f != nil {
				f(c.pod.spec.Namespace, c.pod.spec.Name, c.spec.Name, err.Error())
			}
		}
		if !sleep(ctx, period) {
			return
		}
	}
}

func seconds(n int32, def time.Duration) time.Duration {
	if n <= 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// waitRunning waits until the main process runs; false when ctx ends.
func (c *container) waitRunning(ctx context.Context) bool {
	for {
		ch := c.pod.rt.changes()
		if c.running() {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func (c *container) setReady(ready bool) {
	c.mu.Lock()
	changed := c.ready != ready
	c.ready = ready
	c.mu.Unlock()
	if changed {
		c.pod.rt.notify()
	}
}

// probeOnce runs one probe: nil is success.
func (c *container) probeOnce(ctx context.Context, pr *kube.Probe) error {
	switch {
	case pr.Exec != nil:
		ref := node.Container{PodRef: node.PodRef{Namespace: c.pod.spec.Namespace, Name: c.pod.spec.Name}, Name: c.spec.Name}
		var out limitedBuffer
		err := c.pod.rt.Exec(ctx, ref, pr.Exec.Command, node.Streams{Stdout: &out, Stderr: &out})
		if err != nil {
			return fmt.Errorf("exec %s: %w: %s", strings.Join(pr.Exec.Command, " "), err, out.String())
		}
		return nil
	case pr.TCPSocket != nil:
		port, err := c.probePort(pr.TCPSocket.Port)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(hostOr(pr.TCPSocket.Host), strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case pr.HTTPGet != nil:
		return c.probeHTTP(ctx, pr.HTTPGet)
	}
	return errors.New("probe has no handler")
}

func hostOr(h string) string {
	if h == "" {
		return podIP
	}
	return h
}

// probeHTTP is a GET whose status in [200, 400) is success; HTTPS is not
// verified, and redirects are not followed, as the kubelet probes.
func (c *container) probeHTTP(ctx context.Context, g *kube.HTTPGetAction) error {
	port, err := c.probePort(g.Port)
	if err != nil {
		return err
	}
	scheme := "http"
	if g.Scheme == "HTTPS" {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(hostOr(g.Host), strconv.Itoa(port))+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/porthole")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true} //nolint:gosec // the kubelet does not verify probes either
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// probePort is a probe's port: a number, or the name of one of the
// container's ports.
func (c *container) probePort(p kube.IntOrString) (int, error) {
	if !p.IsString {
		return int(p.Int), nil
	}
	for _, cp := range c.spec.Ports {
		if cp.Name == p.Str {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("port %q: no container port of that name", p.Str)
}

// limitedBuffer keeps the first bytes of a probe's output, for its
// failure message.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 1024 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return strings.TrimSpace(string(l.b)) }
