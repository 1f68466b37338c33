package spdy

import (
	"errors"
	"net"
)

// NewServer runs the server side of a SPDY connection over nc, a connection
// whose upgrade was negotiated elsewhere: the port-forward tunnel, where a
// WebSocket carries the SPDY bytes (PROTOCOL.md section 7) and protocol is the
// name left after stripping "SPDY/3.1+". NewServer owns nc on every path;
// opts.Protocols and opts.KeepAliveTimeout are ignored (the tunnel's
// WebSocket watches the peer).
func NewServer(nc net.Conn, protocol string, opts *UpgradeOptions) (*Conn, error) {
	if protocol == "" {
		_ = nc.Close()
		return nil, errors.New("spdy: NewServer needs the negotiated protocol")
	}
	if opts == nil {
		opts = &UpgradeOptions{}
	}
	return newConn(nc, nil, true, connConfig{
		protocol:    protocol,
		log:         opts.Logger,
		maxStreams:  orDefault(opts.MaxStreams, DefaultMaxStreams),
		queue:       orDefault(opts.StreamQueue, DefaultStreamQueue),
		idle:        durDefault(opts.IdleTimeout, DefaultIdleTimeout),
		linger:      durDefault(opts.Linger, DefaultLinger),
		keepAlive:   opts.KeepAlive,
		onKeepAlive: opts.OnKeepAlive,
	})
}
