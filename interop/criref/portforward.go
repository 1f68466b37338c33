package criref

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
)

// PortForward connects stream to 127.0.0.1:port. It returns when the local
// side has closed its sending direction or failed, after half-closing the
// local socket when the client half-closed the stream; the library then
// closes the stream. The client-to-local copier ends when the client
// resets or finishes the stream; Close joins it.
func (r *Runtime) PortForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("dial port %d: %w", port, err)
	}
	tcp := conn.(*net.TCPConn)
	r.goTracked(func() { copyToLocal(tcp, stream) })
	_, err = io.Copy(stream, tcp)
	_ = tcp.Close()
	if err != nil {
		return fmt.Errorf("copy from port %d: %w", port, err)
	}
	return nil
}

// copyToLocal forwards client bytes and half-closes the socket at the
// client's FIN, so the local server sees EOF while its replies still flow.
func copyToLocal(dst *net.TCPConn, src io.Reader) {
	if _, err := io.Copy(dst, src); err == nil {
		_ = dst.CloseWrite()
	}
}
