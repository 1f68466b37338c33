package localrt

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/porthole/porthole/node"
)

var _ node.UDPRuntime = (*Runtime)(nil)

// DialUDP returns a UDP socket connected to port on 127.0.0.1, the pods'
// network (they are local processes). UDP has no handshake, so this
// succeeds whether or not anything listens; a datagram sent to a closed
// port makes a later Read fail with ECONNREFUSED. The socket belongs to
// the caller, which closes it: the node ends its flows with its sessions.
// IPv4 only: unlike a TCP dial, a UDP "dial" cannot tell which loopback a
// server listens on.
func (r *Runtime) DialUDP(ctx context.Context, ref node.PodRef, port uint16) (net.Conn, error) {
	leave, err := r.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	p, err := r.lookupPod(ref.Namespace, ref.Name)
	if err != nil {
		return nil, err
	}
	if ref.UID != "" && ref.UID != p.spec.UID {
		return nil, fmt.Errorf("pod %s/%s with uid %s: %w", ref.Namespace, ref.Name, ref.UID, node.ErrNotFound)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return nil, fmt.Errorf("dial udp port %d: %w", port, err)
	}
	return conn, nil
}
