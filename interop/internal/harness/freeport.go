package harness

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// portFloor is the lowest port FreePort hands out: above the ports that
// services on a machine commonly take.
const portFloor = 10000

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// FreePort is a loopback TCP port nothing listens on, for a server that
// must bind a port known in advance (a pod's server, or gateway replicas
// that name each other).
//
// A port from listening on 127.0.0.1:0 is not safe for that: it is in the
// kernel's ephemeral range, and once the probe closes, any outgoing
// connection of the busy test machine may take it as its source port before
// the server binds it. So the port is drawn below that range, where the
// kernel gives no port on its own; it is checked free, and never handed out
// twice by this process.
func FreePort() (int, error) {
	ceiling := ephemeralLow()
	portsMu.Lock()
	defer portsMu.Unlock()
	var last error
	for range 200 {
		p := portFloor + rand.IntN(ceiling-portFloor)
		if portsGiven[p] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			last = err
			continue
		}
		ln.Close()
		portsGiven[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("no free loopback port in [%d, %d): %v", portFloor, ceiling, last)
}

// ephemeralLow is the first port of the kernel's ephemeral range, or Linux's
// default when it cannot be read or leaves too little room below it.
func ephemeralLow() int {
	const linuxDefault = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return linuxDefault
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return linuxDefault
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low < portFloor+1000 {
		return linuxDefault
	}
	return low
}
