package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
)

// session is one exec or attach after the upgrade, whatever the wire. The
// transports build its streams (stream.Session); run does the rest.
//
// Shared fate: inbound stdin and resize share the transport's single read
// path (one WebSocket read loop; one spdystream frame queue), so a process
// that stops reading stdin stalls resize and the close signal too, as in the
// kubelet. The transports still notice a client that vanished meanwhile
// (they look at the socket while their reader waits), which cancels the
// session's context, so the runtime kills the process and the blocked stdin
// copy ends when Stdin is closed. Outbound writes block on the socket
// (backpressure to the process).
type session struct {
	n      *Node
	req    *request
	target Container
	*stream.Session
	// late, when set, brings the streams while the process already runs
	// (SPDY exec): Session holds only Conn until run has them.
	late *lateStreams
}

// run serves the session and closes conn. It returns once every goroutine it
// started has ended.
func (s *session) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := s.connContext(ctx, &wg)
	defer cancel()
	defer context.AfterFunc(s.n.stopCtx, cancel)()

	streams := Streams{TTY: s.req.tty, Started: s.sendConnected}
	var stdin io.Reader
	if s.late != nil {
		if s.req.stdout {
			streams.Stdout = lateWriter{s.late, func(ss *stream.Session) stream.Stream { return ss.Stdout }}
		}
		if s.req.stderr {
			streams.Stderr = lateWriter{s.late, func(ss *stream.Session) stream.Stream { return ss.Stderr }}
		}
		if s.req.stdin {
			stdin = lateReader{s.late}
		}
	} else {
		if s.Stdout != nil {
			streams.Stdout = s.Stdout
		}
		if s.Stderr != nil {
			streams.Stderr = s.Stderr
		}
		if s.Stdin != nil {
			stdin = s.Stdin
		}
	}
	var stdinR *os.File
	if stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			s.finish(fmt.Errorf("create stdin pipe: %w", err))
			return
		}
		stdinR = r
		streams.Stdin = r
		if p, ok := stdin.(interface{ PushTo(*os.File) }); ok {
			p.PushTo(w) // the transport feeds and closes w: no goroutine waits for stdin
		} else {
			wg.Add(1)
			go s.copyStdin(stdin, w, &wg)
		}
	}
	if s.req.tty && s.Resize != nil {
		sizes := make(chan resize.Size, 1)
		wg.Add(1)
		go s.readResize(sizes, &wg)
		streams.Resize = sizes
		streams.Size = s.initialSize(ctx, sizes)
	}

	var err error
	switch s.req.verb {
	case "exec":
		err = s.n.rt.Exec(ctx, s.target, s.req.command, streams)
	default:
		err = s.n.rt.Attach(ctx, s.target, streams)
	}
	if stdinR != nil {
		stdinR.Close() // a copyStdin blocked on a full pipe now fails and ends
	}
	if ctx.Err() != nil && s.Conn.Err() != nil {
		s.n.log.Debug("client went away", "pod", s.target.PodRef.Name, "container", s.target.Name, "err", s.Conn.Err())
	}
	if err != nil && s.n.stopCtx.Err() != nil {
		// Whatever the runtime reports (a killed process's exit code), the
		// command did not finish: the client must not read success.
		err = fmt.Errorf("%w (%v)", ErrShuttingDown, err)
	}
	if s.late != nil {
		// The status goes on the error stream, so it waits for the setup;
		// without the streams there is no one to tell (the setup aborted
		// the connection, which ended the process).
		ss, serr := s.late.wait()
		if serr != nil {
			return
		}
		s.Session = ss
	}
	if errors.Is(err, ErrStalled) {
		// The client takes no output: a status would queue behind what it
		// does not read. Cutting the connection also ends the runtime's
		// write in flight.
		s.n.log.Info("ending session: client stopped reading", "pod", s.target.PodRef.Name, "container", s.target.Name, "err", err)
		_ = s.Conn.Abort("output stalled: the client stopped reading")
		return
	}
	s.finish(err)
}

// connContext returns the session's context, cancelled when the connection
// ends first (the client vanished) so the runtime signals the process. Our
// transports expose a context for that; any other stream.Conn costs a
// watching goroutine (an idle session is cheaper without it).
func (s *session) connContext(parent context.Context, wg *sync.WaitGroup) (context.Context, context.CancelFunc) {
	if cc, ok := s.Conn.(interface{ Context() context.Context }); ok {
		return context.WithCancel(cc.Context())
	}
	ctx, cancel := context.WithCancel(parent)
	wg.Add(1)
	go s.watchConn(ctx, cancel, wg)
	return ctx, cancel
}

// sendConnected writes the empty "connected" message, once.
func (s *session) sendConnected() {
	if s.Connected == nil {
		return
	}
	if _, err := s.Connected.Write(nil); err != nil {
		s.n.log.Debug("write connected message", "err", err)
	}
	s.Connected = nil
}

// watchConn cancels the session when the connection ends first.
func (s *session) watchConn(ctx context.Context, cancel context.CancelFunc, wg *sync.WaitGroup) {
	defer wg.Done()
	select {
	case <-s.Conn.Done():
		cancel()
	case <-ctx.Done():
	}
}

// copyStdin feeds the process's stdin pipe from the stdin stream and closes
// the pipe on the client's half-close, so the process reads EOF.
func (s *session) copyStdin(in io.Reader, w *os.File, wg *sync.WaitGroup) {
	defer wg.Done()
	defer w.Close()
	if _, err := io.Copy(w, in); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, errNoStreams) {
		s.n.log.Debug("stdin copy ended", "err", err)
	}
}

// readResize decodes terminal sizes, keeping only the newest one when the
// runtime lags (sizes has room for one), and closes sizes when the stream
// ends. Malformed input ends the session.
func (s *session) readResize(sizes chan resize.Size, wg *sync.WaitGroup) {
	defer wg.Done()
	defer close(sizes)
	dec := resize.NewDecoder(s.Resize)
	for {
		sz, err := dec.Decode()
		if err != nil {
			if !errors.Is(err, io.EOF) && s.Conn.Err() == nil {
				s.n.log.Info("ending session: bad resize message", "err", err)
				_ = s.Conn.Abort("malformed resize message")
			}
			return
		}
		for {
			select {
			case sizes <- sz:
			default:
				select {
				case <-sizes: // drop the stale size
				default:
				}
				continue
			}
			break
		}
	}
}

// initialSize waits briefly for the client's first terminal size so that it
// is in force before the process starts (the kubelet races here and
// `stty size` can print 0 0 against it).
func (s *session) initialSize(ctx context.Context, sizes <-chan resize.Size) resize.Size {
	t := time.NewTimer(s.n.opts.InitialSizeTimeout)
	defer t.Stop()
	select {
	case sz, ok := <-sizes:
		if ok {
			return sz
		}
	case <-t.C:
	case <-ctx.Done():
	}
	return resize.Size{}
}

// finish reports the outcome on the error stream, in the version's form,
// after all output (the runtime returned only once output was written), then
// ends the connection gracefully.
func (s *session) finish(err error) {
	if werr := s.WriteStatus(s.status(err)); werr != nil {
		s.n.log.Debug("write status", "err", werr)
	}
	if cerr := s.Conn.Close(); cerr != nil {
		s.n.log.Debug("close connection", "err", cerr)
	}
}

// status is the outcome as the API server reports it.
func (s *session) status(err error) *status.Status {
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return status.NewSuccess()
	case errors.Is(err, ErrShuttingDown):
		// The API server's answer while it shuts down; clients (the web
		// terminal) may offer to reconnect.
		return status.NewHTTP(http.StatusServiceUnavailable, "ServiceUnavailable", err.Error(), nil)
	case s.req.verb == "exec" && errors.As(err, &coded) && coded.ExitCode() != 0:
		code := coded.ExitCode()
		if code < 0 || code > 255 {
			code = 255
		}
		return status.NewExit(code)
	case s.req.verb == "exec":
		// The kubelet's words around the runtime's error.
		return status.NewInternalError(fmt.Errorf("error executing command in container: %w", err))
	case s.req.verb == "attach":
		return status.NewInternalError(fmt.Errorf("error attaching to container: %w", err))
	default:
		return status.NewInternalError(err)
	}
}
