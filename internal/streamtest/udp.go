package streamtest

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// UDPServer answers every datagram to a 127.0.0.1 port with what handle
// returns for it and its sender (nothing for no reply) and returns the
// port; cleanup closes the socket and joins the server.
func UDPServer(t testing.TB, handle func(req []byte, from netip.AddrPort) [][]byte) uint16 {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1<<16)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue // an ICMP error from an earlier reply's peer
			}
			for _, r := range handle(buf[:n], from) {
				_, _ = pc.WriteToUDPAddrPort(r, from)
			}
		}
	}()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

// UDPEchoServer is a UDPServer that sends every datagram back.
func UDPEchoServer(t testing.TB) uint16 {
	return UDPServer(t, func(req []byte, _ netip.AddrPort) [][]byte { return [][]byte{append([]byte(nil), req...)} })
}

// UDPServerFrom is a UDPServer that answers every datagram with the
// address it came from: on the pod's side, each forwarded flow has its own.
func UDPServerFrom(t testing.TB) uint16 {
	return UDPServer(t, func(_ []byte, from netip.AddrPort) [][]byte { return [][]byte{[]byte(from.String())} })
}

// DNSServer is a UDPServer answering DNS queries: A queries for a name in
// answers (fully qualified, any case) get its address with a TTL of 60 s,
// other types for those names an empty answer, unknown names NXDOMAIN.
// Anything that is not a query is ignored.
func DNSServer(t testing.TB, answers map[string]netip.Addr) uint16 {
	known := make(map[string]netip.Addr)
	for name, a := range answers {
		known[strings.ToLower(name)] = a
	}
	return UDPServer(t, func(req []byte, _ netip.AddrPort) [][]byte {
		if reply := dnsAnswer(req, known); reply != nil {
			return [][]byte{reply}
		}
		return nil
	})
}

// dnsAnswer builds the reply to query req, or nil.
func dnsAnswer(req []byte, known map[string]netip.Addr) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil || h.Response {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	addr, ok := known[strings.ToLower(q.Name.String())]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil
	}
	if ok && q.Type == dnsmessage.TypeA && addr.Is4() {
		rr := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}
		if b.AResource(rr, dnsmessage.AResource{A: addr.As4()}) != nil {
			return nil
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}
