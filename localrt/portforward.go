package localrt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole/porthole/node"
)

// podEndGrace is how long a forward whose pod side ended waits for the
// client's side before it ends both, as containerd's and CRI-O's
// PortForward do (1 s).
var podEndGrace = time.Second

// PortForward dials port on the loopback (127.0.0.1, then [::1]) and
// copies both ways between the connection and stream. A failed dial
// returns the error before anything is read from or written to stream.
// When the TCP side reaches EOF the stream is half-closed (if it has
// CloseWrite() error); when the stream reaches EOF the TCP connection is
// half-closed. When the client's side ends first, the pod may answer for
// as long as it likes; when the pod's side ends first, every byte of it
// is passed on and the client gets podEndGrace to finish, then both end:
// kubectl 1.27 to 1.31 close their local connection only once the node
// ends the forward, so waiting for them would wait for ever. PortForward
// also returns when either direction fails (it then closes both) or when
// ctx is cancelled. It closes stream before returning, on every path.
func (r *Runtime) PortForward(ctx context.Context, ref node.PodRef, port uint16, stream io.ReadWriteCloser) error {
	defer stream.Close()
	leave, err := r.enter()
	if err != nil {
		return err
	}
	defer leave()
	p, err := r.lookupPod(ref.Namespace, ref.Name)
	if err != nil {
		return err
	}
	if ref.UID != "" && ref.UID != p.spec.UID {
		return fmt.Errorf("pod %s/%s with uid %s: %w", ref.Namespace, ref.Name, ref.UID, node.ErrNotFound)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.ctx, cancel)()
	conn, err := r.dial(ctx, port)
	if err != nil {
		return err
	}
	defer conn.Close()
	f := &forward{conn: conn, stream: stream}
	stop := context.AfterFunc(ctx, f.abort)
	defer stop()
	podDone, clientDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(podDone)
		f.copyToStream()
	}()
	go func() {
		defer close(clientDone)
		f.copyToConn()
	}()
	select {
	case <-clientDone:
		<-podDone
	case <-podDone:
		t := time.NewTimer(podEndGrace)
		select {
		case <-clientDone:
		case <-t.C:
			f.end()
			<-clientDone
		}
		t.Stop()
	}
	if ctx.Err() != nil {
		return nil
	}
	return f.err
}

// dial connects to the pod's port: IPv4 loopback first, then IPv6.
func (r *Runtime) dial(ctx context.Context, port uint16) (net.Conn, error) {
	d := net.Dialer{Timeout: r.dialTime}
	p := strconv.Itoa(int(port))
	conn, err4 := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", p))
	if err4 == nil {
		return conn, nil
	}
	conn, err6 := d.DialContext(ctx, "tcp6", net.JoinHostPort("::1", p))
	if err6 == nil {
		return conn, nil
	}
	return nil, fmt.Errorf("dial port %d: %w", port, errors.Join(err4, err6))
}

// forward is one port-forward connection's two copies.
type forward struct {
	conn   net.Conn
	stream io.ReadWriteCloser
	once   sync.Once
	err    error
	ended  atomic.Bool // end was called: what fails afterwards is no error
}

// copyToStream copies the TCP side to the stream, then half-closes it.
func (f *forward) copyToStream() {
	if _, err := io.Copy(f.stream, f.conn); err != nil {
		f.fail(fmt.Errorf("copy from port: %w", err))
		return
	}
	if cw, ok := f.stream.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			f.fail(fmt.Errorf("half-close stream: %w", err))
		}
	}
}

// copyToConn copies the stream to the TCP side, then half-closes it.
func (f *forward) copyToConn() {
	if _, err := io.Copy(f.conn, f.stream); err != nil {
		f.fail(fmt.Errorf("copy to port: %w", err))
		return
	}
	if cw, ok := f.conn.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			f.fail(fmt.Errorf("half-close port: %w", err))
		}
	}
}

// fail records the first error and aborts both directions.
func (f *forward) fail(err error) {
	if !f.ended.Load() {
		f.once.Do(func() { f.err = err })
	}
	f.abort()
}

// end closes both sides of a forward that is over: the copy cut short by
// it is no failure.
func (f *forward) end() {
	f.ended.Store(true)
	f.abort()
}

func (f *forward) abort() {
	f.conn.Close()
	f.stream.Close()
}
