package portforward

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestAppendDatagram(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
	}{
		{"abc", []byte("abc"), []byte{0x00, 0x03, 'a', 'b', 'c'}},
		{"empty", nil, []byte{0x00, 0x00}},
		{"256 bytes", make([]byte, 256), append([]byte{0x01, 0x00}, make([]byte, 256)...)},
		{"max", make([]byte, MaxDatagram), append([]byte{0xff, 0xe3}, make([]byte, MaxDatagram)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendDatagram([]byte{0xAA}, tc.in)
			if err != nil || !bytes.Equal(got, append([]byte{0xAA}, tc.want...)) {
				t.Fatalf("got % X… %v, want % X…", head(got), err, head(tc.want))
			}
		})
	}
	got, err := AppendDatagram([]byte{0xAA}, make([]byte, MaxDatagram+1))
	if !errors.Is(err, ErrDatagramTooLarge) || !bytes.Equal(got, []byte{0xAA}) {
		t.Fatalf("oversized: got % X, %v, want AA and ErrDatagramTooLarge", got, err)
	}
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

// datagramCases are wire bytes and what ReadDatagram makes of them, one
// call after another; they seed the fuzz target.
var datagramCases = []struct {
	name string
	wire []byte
	want []string // datagrams read before the error
	err  error
}{
	{"one", []byte{0, 3, 'a', 'b', 'c'}, []string{"abc"}, io.EOF},
	{"two and an empty one", []byte{0, 1, 'x', 0, 0, 0, 2, 'y', 'z'}, []string{"x", "", "yz"}, io.EOF},
	{"nothing", nil, nil, io.EOF},
	{"half a length", []byte{0}, nil, io.ErrUnexpectedEOF},
	{"short payload", []byte{0, 4, 'a', 'b'}, nil, io.ErrUnexpectedEOF},
	{"length 65508", []byte{0xff, 0xe4, 'a'}, nil, ErrDatagramTooLarge},
	{"length 65535 after a good one", []byte{0, 1, 'q', 0xff, 0xff}, []string{"q"}, ErrDatagramTooLarge},
	{"length 65507 exactly", append([]byte{0xff, 0xe3}, bytes.Repeat([]byte{7}, MaxDatagram)...), []string{string(bytes.Repeat([]byte{7}, MaxDatagram))}, io.EOF},
}

func TestReadDatagram(t *testing.T) {
	for _, tc := range datagramCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAllDatagrams(tc.wire)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error: got %v, want %v", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d datagrams, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if string(got[i]) != tc.want[i] {
					t.Fatalf("datagram %d: got %q, want %q", i, head(got[i]), head([]byte(tc.want[i])))
				}
			}
		})
	}
	if _, err := ReadDatagram(bytes.NewReader([]byte{0, 0}), make([]byte, 10)); err == nil {
		t.Fatal("small buffer: got nil error")
	}
}

// readAllDatagrams reads datagrams until the first error.
func readAllDatagrams(wire []byte) ([][]byte, error) {
	r := bytes.NewReader(wire)
	buf := make([]byte, MaxDatagram)
	var out [][]byte
	for {
		n, err := ReadDatagram(r, buf)
		if err != nil {
			return out, err
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
}

func TestIsUDP(t *testing.T) {
	for v, want := range map[string]bool{"UDP": true, "udp": true, "Udp": true, "": false, "TCP": false, "udp ": false} {
		if got := IsUDP(v); got != want {
			t.Errorf("IsUDP(%q) = %v, want %v", v, got, want)
		}
	}
	if UDPTunnelName != "SPDY/3.1+udp.portforward.porthole.dev" {
		t.Errorf("UDPTunnelName = %q", UDPTunnelName)
	}
}

// FuzzReadDatagram: the decoder never panics, never returns more than
// MaxDatagram bytes, and what it reads frames back to exactly the bytes it
// consumed.
func FuzzReadDatagram(f *testing.F) {
	for _, tc := range datagramCases {
		f.Add(tc.wire)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		got, err := readAllDatagrams(wire)
		var again []byte
		for _, d := range got {
			if len(d) > MaxDatagram {
				t.Fatalf("datagram of %d bytes", len(d))
			}
			again, _ = AppendDatagram(again, d)
		}
		if !bytes.HasPrefix(wire, again) {
			t.Fatalf("re-framed % X is not a prefix of the input % X", head(again), head(wire))
		}
		switch {
		case errors.Is(err, io.EOF):
			if len(again) != len(wire) {
				t.Fatalf("EOF after %d of %d bytes", len(again), len(wire))
			}
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrDatagramTooLarge):
			if len(again) == len(wire) {
				t.Fatalf("%v with no bytes left", err)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
