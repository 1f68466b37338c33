package portforward

import (
	"bytes"
	"errors"
	"testing"

	"github.com/porthole/porthole/protocol/channel"
)

func TestPortPrefix(t *testing.T) {
	cases := []struct {
		i    int
		port uint16
		data []byte
		errc []byte
	}{
		{0, 80, []byte{0x00, 0x50, 0x00}, []byte{0x01, 0x50, 0x00}},
		{1, 9999, []byte{0x02, 0x0F, 0x27}, []byte{0x03, 0x0F, 0x27}},
	}
	for _, tc := range cases {
		d, e := Channels(tc.i)
		gotD := channel.Append(nil, d, AppendPortPrefix(nil, tc.port))
		gotE := channel.Append(nil, e, AppendPortPrefix(nil, tc.port))
		if !bytes.Equal(gotD, tc.data) || !bytes.Equal(gotE, tc.errc) {
			t.Fatalf("port %d: got % X / % X, want % X / % X", tc.port, gotD, gotE, tc.data, tc.errc)
		}
		port, rest, err := ParsePortPrefix(append(tc.data[1:], 'x'))
		if err != nil || port != tc.port || string(rest) != "x" {
			t.Fatalf("ParsePortPrefix: got %d %q %v, want %d \"x\"", port, rest, err, tc.port)
		}
	}
	if _, _, err := ParsePortPrefix([]byte{1}); !errors.Is(err, ErrShortPortPrefix) {
		t.Fatalf("short prefix: got %v, want ErrShortPortPrefix", err)
	}
}

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		ok   bool
	}{{"80", 80, true}, {"65535", 65535, true}, {"0", 0, false}, {"65536", 0, false}, {"", 0, false}, {"-1", 0, false}, {" 80", 0, false}} {
		got, err := ParsePort(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePort(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestPairID(t *testing.T) {
	for _, tc := range []struct {
		req  string
		id   uint32
		typ  string
		want string
	}{
		{"7", 11, StreamData, "7"},
		{"", 1, StreamError, "1"},
		{"", 3, StreamData, "1"},
	} {
		if got := PairID(tc.req, tc.id, tc.typ); got != tc.want {
			t.Errorf("PairID(%q, %d, %s) = %q, want %q", tc.req, tc.id, tc.typ, got, tc.want)
		}
	}
}

func FuzzParsePortPrefix(f *testing.F) {
	f.Add([]byte{0x50, 0x00})
	f.Add([]byte{0x0F})
	f.Fuzz(func(t *testing.T, b []byte) {
		port, rest, err := ParsePortPrefix(b)
		if err != nil {
			return
		}
		if got := append(AppendPortPrefix(nil, port), rest...); !bytes.Equal(got, b) {
			t.Fatalf("round trip: got % X, want % X", got, b)
		}
	})
}
