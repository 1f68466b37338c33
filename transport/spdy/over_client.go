package spdy

import (
	"errors"
	"net"
)

// NewClient runs the client side of a SPDY connection over nc, a connection
// whose upgrade was negotiated elsewhere: the port-forward tunnel, where a
// WebSocket carries the SPDY bytes (PROTOCOL.md section 7) and protocol is the
// name left after stripping "SPDY/3.1+" from the subprotocol the server chose.
// Of opts only PingPeriod (client-go pings every 10 s inside the tunnel; pass
// that to match it), Linger and Logger apply. NewClient owns nc on every path.
func NewClient(nc net.Conn, protocol string, opts *DialOptions) (*Conn, error) {
	if protocol == "" {
		_ = nc.Close()
		return nil, errors.New("spdy: NewClient needs the negotiated protocol")
	}
	if opts == nil {
		opts = &DialOptions{}
	}
	// Same defaults as Dial: a server that opens streams gets the queue
	// and the limit a server would.
	return newConn(nc, nil, false, connConfig{
		protocol:   protocol,
		log:        opts.Logger,
		maxStreams: DefaultMaxStreams,
		queue:      DefaultStreamQueue,
		ping:       durDefault(opts.PingPeriod, DefaultPingPeriod),
		linger:     durDefault(opts.Linger, DefaultLinger),
	})
}
