package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/porthole/porthole/internal/pump"
	"github.com/porthole/porthole/protocol/portforward"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
)

// maxErrorMessage bounds what is read from a forward's error stream; the
// kubelet's messages are one line.
const maxErrorMessage = 64 * 1024

// forwardedConn is one accepted local connection and its two streams.
type forwardedConn struct {
	local net.Conn
	port  ForwardedPort
	data  *spdy.Stream
	errs  *spdy.Stream

	abortOnce sync.Once
}

// handle forwards one accepted connection and closes it. Failures end this
// connection only.
func (f *forwarder) handle(ctx context.Context, local net.Conn, l portListener) {
	defer f.wg.Done()
	defer local.Close()
	f.events.emit(PortForwardEvent{Kind: EventConnection, Port: l.port})
	conn, err := f.session(ctx)
	if err != nil {
		return // ctx ended while reconnecting
	}
	defer conn.release()
	port := conn.remote(l.index, l.port)
	fc, msg, err := f.open(ctx, conn, local, port)
	switch {
	case msg != "":
		f.events.emit(PortForwardEvent{Kind: EventRemoteError, Port: port, Message: msg})
		return
	case err != nil:
		if ctx.Err() == nil {
			f.events.emit(PortForwardEvent{Kind: EventConnectionFailed, Port: port, Err: err})
		}
		return
	}
	if msg, err := fc.run(ctx); err != nil {
		f.events.emit(PortForwardEvent{Kind: EventConnectionFailed, Port: port, Err: err})
	} else if msg != "" {
		f.events.emit(PortForwardEvent{Kind: EventRemoteError, Port: port, Message: msg})
	}
}

// open opens the error stream, then the data stream, on conn under the
// next request ID (PROTOCOL.md section 5). When the data
// stream is refused, the error stream may still say why: the kubelet's
// library can fail the forward and reset the data stream before it has
// answered its SYN_STREAM (observed under load when nothing listens on the
// remote port), so the error stream is read, for a bounded time, and its
// message returned.
func (f *forwarder) open(ctx context.Context, conn *podConn, local net.Conn, port ForwardedPort) (*forwardedConn, string, error) {
	h := http.Header{}
	h.Set(portforward.HeaderStreamType, portforward.StreamError)
	h.Set(portforward.HeaderPort, strconv.Itoa(int(port.Remote)))
	h.Set(portforward.HeaderRequestID, strconv.FormatUint(f.nextID.Add(1)-1, 10))
	if port.isUDP() {
		h.Set(portforward.HeaderProtocol, portforward.ProtocolUDP)
	}
	errs, err := conn.Open(ctx, h)
	if err != nil {
		return nil, "", fmt.Errorf("open error stream: %w", err)
	}
	// We never write to the error stream.
	_ = errs.CloseWrite()
	h.Set(portforward.HeaderStreamType, portforward.StreamData)
	data, err := conn.Open(ctx, h)
	if err != nil {
		return nil, drainErrors(errs), fmt.Errorf("open data stream: %w", err)
	}
	return &forwardedConn{local: local, port: port, data: data, errs: errs}, "", nil
}

// errorDrainTimeout bounds the wait for an error stream's message when its
// data stream never opened.
const errorDrainTimeout = 5 * time.Second

// drainErrors reads errs to its end, or resets it after errorDrainTimeout,
// and returns what it said.
func drainErrors(errs *spdy.Stream) string {
	done := make(chan errorResult, 1)
	fc := &forwardedConn{errs: errs}
	go fc.readErrors(done)
	t := time.NewTimer(errorDrainTimeout)
	defer t.Stop()
	var res errorResult
	select {
	case res = <-done:
	case <-t.C:
		_ = errs.Reset()
		res = <-done
	}
	_ = errs.Reset()
	return res.msg
}

// errorResult is what the error stream carried.
type errorResult struct {
	msg string
	err error
}

// run copies both ways until both directions have ended and the error
// stream has been read to its end. A failed copy or a message on the error
// stream aborts the connection: the local socket closes and the data stream
// is reset, so both copiers return, and the error stream is left to the
// server, which always ends it (its message must not be cut short). ctx
// ending resets the error stream too. run returns the pod's error message,
// or the error that ended the connection abnormally.
func (fc *forwardedConn) run(ctx context.Context) (string, error) {
	up := make(chan error, 1)
	down := make(chan error, 1)
	errc := make(chan errorResult, 1)
	go fc.copyUp(up)
	go fc.copyDown(down)
	go fc.readErrors(errc)
	var (
		res                 errorResult
		failed              error
		upDone, downDone    bool
		errsDone, cancelled bool
	)
	for !upDone || !downDone || !errsDone {
		select {
		case err := <-up:
			upDone = true
			failed = fc.check(failed, err, "copy to pod")
		case err := <-down:
			downDone = true
			failed = fc.check(failed, err, "copy from pod")
		case res = <-errc:
			errsDone = true
			if res.msg != "" || res.err != nil {
				fc.abort()
			}
		case <-ctx.Done():
			if !cancelled {
				cancelled = true
				fc.abort()
				_ = fc.errs.Reset()
			}
		}
		if cancelled {
			ctx = context.Background() // keep joining
		}
	}
	// Both ways are done: nothing more is sent or wanted (client-go resets
	// here too; after our FIN the reset sends nothing).
	_ = fc.data.Reset()
	if res.err != nil && failed == nil && !cancelled {
		failed = fmt.Errorf("read error stream: %w", res.err)
	}
	return res.msg, failed
}

// check aborts the connection on the first failed copy and remembers it.
func (fc *forwardedConn) check(failed, err error, op string) error {
	if err == nil || failed != nil {
		return failed
	}
	fc.abort()
	if errors.Is(err, stream.ErrClosed) || errors.Is(err, net.ErrClosed) {
		// Our own abort ended this copy; the cause is reported elsewhere.
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// abort closes the local socket and resets the data stream, once.
func (fc *forwardedConn) abort() {
	fc.abortOnce.Do(func() {
		_ = fc.local.Close()
		_ = fc.data.Reset()
	})
}

// upReadSize is how much of the local side one read takes: four DATA
// frames of 32 KiB.
const upReadSize = 128 << 10

// upPool lends copyUp its buffers only while bytes move.
var upPool = pump.NewPool(upReadSize)

// copyUp sends local bytes to the pod; local EOF becomes a FIN. It reads up
// to 128 KiB at once (Write cuts DATA frames) and polls the local socket
// only after a short read, holding no buffer while it is quiet: the data
// stream's own ReadFrom polls before each read of 32 KiB.
func (fc *forwardedConn) copyUp(done chan<- error) {
	_, err := pump.Copy(fc.local, upPool, 0, upReadSize, func(p []byte) error {
		_, err := fc.data.Write(p)
		return err
	})
	if err == nil {
		err = fc.data.CloseWrite()
	}
	done <- err
}

// copyDown writes the pod's bytes locally; the pod's FIN half-closes the
// local socket so the local peer reads EOF and may still answer.
func (fc *forwardedConn) copyDown(done chan<- error) {
	_, err := io.Copy(fc.local, fc.data)
	if err == nil {
		if cw, ok := fc.local.(closeWriter); ok {
			err = cw.CloseWrite()
		}
	}
	done <- err
}

// readErrors reads the error stream to its end.
func (fc *forwardedConn) readErrors(done chan<- errorResult) {
	b, err := io.ReadAll(io.LimitReader(fc.errs, maxErrorMessage))
	if errors.Is(err, stream.ErrClosed) {
		err = nil // our own abort
	}
	done <- errorResult{msg: string(b), err: err}
}
