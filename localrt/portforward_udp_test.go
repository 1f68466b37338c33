package localrt

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// TestDialUDP: the socket reaches a UDP server on the pods' loopback, one
// datagram per Write and Read; an unknown pod or a stale UID is NotFound.
func TestDialUDP(t *testing.T) {
	r := start(t, testPod("p", kube.Container{}, ""))
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	conn, err := r.DialUDP(context.Background(), pfRef(), port)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("one"))
	conn.Write([]byte("two"))
	buf := make([]byte, 64)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"one", "two"} {
		n, from, err := pc.ReadFromUDP(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("server read %q, %v; want %q", buf[:n], err, want)
		}
		pc.WriteToUDP([]byte("re:"+want), from)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"re:one", "re:two"} {
		if n, err := conn.Read(buf); err != nil || string(buf[:n]) != want {
			t.Fatalf("reply %q, %v; want %q", buf[:n], err, want)
		}
	}
	for _, ref := range []node.PodRef{{Namespace: "default", Name: "nope"}, {Namespace: "default", Name: "p", UID: "stale"}} {
		if _, err := r.DialUDP(context.Background(), ref, port); !errors.Is(err, node.ErrNotFound) {
			t.Errorf("%+v: got %v, want ErrNotFound", ref, err)
		}
	}
}
