package client

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// listenAddr is one address to listen on. Addresses of a "localhost" group
// need only one member to bind; explicit ones must all bind.
type listenAddr struct {
	network, host string
	localhost     bool
}

// parseAddresses resolves PortForwardOptions.Addresses as kubectl does:
// "localhost" is 127.0.0.1 and ::1; anything else must be an IP address.
// Duplicates are dropped.
func parseAddresses(addrs []string) ([]listenAddr, error) {
	if len(addrs) == 0 {
		addrs = []string{"localhost"}
	}
	var out []listenAddr
	seen := make(map[string]bool)
	add := func(a listenAddr) {
		if !seen[a.host] {
			seen[a.host] = true
			out = append(out, a)
		}
	}
	for _, a := range addrs {
		if a == "localhost" {
			add(listenAddr{network: "tcp4", host: "127.0.0.1", localhost: true})
			add(listenAddr{network: "tcp6", host: "::1", localhost: true})
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid IP", a)
		}
		network := "tcp4"
		if ip.Is6() && !ip.Is4In6() {
			network = "tcp6"
		}
		add(listenAddr{network: network, host: ip.Unmap().String()})
	}
	return out, nil
}

// portListener is one bound local socket of a forward: a TCP listener, or
// a UDP socket (pc) for a UDP port.
type portListener struct {
	ln    net.Listener
	pc    *net.UDPConn
	port  ForwardedPort
	index int // of the forward in PortForwardOptions.Ports
}

// addr is the bound address.
func (l portListener) addr() net.Addr {
	if l.pc != nil {
		return l.pc.LocalAddr()
	}
	return l.ln.Addr()
}

// close closes the socket.
func (l portListener) close() error {
	if l.pc != nil {
		return l.pc.Close()
	}
	return l.ln.Close()
}

// listenPort binds port on every address, the first bind choosing the
// local port when it is 0 so all addresses share it (as kubectl does). It
// returns the listeners, the bound port, and warnings for localhost members
// that failed while another bound. A failed explicit address, or a port
// with no listener at all, is an error and closes what was bound.
func listenPort(port ForwardedPort, addrs []listenAddr) ([]portListener, ForwardedPort, []error, error) {
	var (
		lns                []portListener
		warnings, failures []error
		localhostOK        bool
	)
	for _, a := range addrs {
		l, local, err := bind(a, port)
		if err != nil {
			err = fmt.Errorf("unable to create listener on %s: %w", a.host, err)
			if a.localhost {
				warnings = append(warnings, err)
			} else {
				failures = append(failures, err)
			}
			continue
		}
		localhostOK = localhostOK || a.localhost
		port.Local = local
		l.port = port
		lns = append(lns, l)
	}
	if !localhostOK && len(warnings) > 0 {
		failures, warnings = append(failures, warnings...), nil
	}
	if len(failures) > 0 || len(lns) == 0 {
		for _, l := range lns {
			_ = l.close()
		}
		return nil, port, nil, errors.Join(failures...)
	}
	return lns, port, warnings, nil
}

// bind binds port on a: a TCP listener, or a UDP socket for a UDP port.
func bind(a listenAddr, port ForwardedPort) (portListener, uint16, error) {
	if port.isUDP() {
		return bindUDP(a, port)
	}
	ln, err := net.Listen(a.network, net.JoinHostPort(a.host, strconv.Itoa(int(port.Local))))
	if err != nil {
		return portListener{}, 0, err
	}
	return portListener{ln: ln, port: port}, uint16(ln.Addr().(*net.TCPAddr).Port), nil
}
