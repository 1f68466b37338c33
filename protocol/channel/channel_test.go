package channel

import (
	"bytes"
	"errors"
	"testing"
)

var binaryCases = []struct {
	name    string
	ch      byte
	payload []byte
	wire    []byte
}{
	{"stdin ls", Stdin, []byte("ls\n"), []byte{0x00, 0x6C, 0x73, 0x0A}},
	{"stdout newline", Stdout, []byte("\n"), []byte{0x01, 0x0A}},
	{"connected stdout", Stdout, nil, []byte{0x01}},
	{"connected error", Error, []byte{}, []byte{0x03}},
	{"resize", Resize, []byte(`{"Width":80,"Height":24}` + "\n"),
		append([]byte{0x04}, `{"Width":80,"Height":24}`+"\n"...)},
	{"channel 255 data", 255, []byte{0x00}, []byte{0xFF, 0x00}},
}

func TestBinaryGolden(t *testing.T) {
	for _, tc := range binaryCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Append(nil, tc.ch, tc.payload)
			if !bytes.Equal(got, tc.wire) {
				t.Fatalf("Append: got % X, want % X", got, tc.wire)
			}
			ch, p, err := Decode(tc.wire)
			if err != nil || ch != tc.ch || !bytes.Equal(p, tc.payload) {
				t.Fatalf("Decode: got %d %q %v, want %d %q", ch, p, err, tc.ch, tc.payload)
			}
		})
	}
}

func TestDecodeEmpty(t *testing.T) {
	if _, _, err := Decode(nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("got %v, want ErrEmpty", err)
	}
	if _, _, err := DecodeBase64(nil, []byte{}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("base64: got %v, want ErrEmpty", err)
	}
}

var base64Cases = []struct {
	name    string
	ch      byte
	payload string
	wire    string
}{
	{"stdout OUT:", Stdout, "OUT:", "1T1VUOg=="},
	{"stdin foo", Stdin, "foo\n", "0Zm9vCg=="},
	{"connected", Stdout, "", "1"},
	{"error", Error, "x", "3eA=="},
	{"port channel 10", 10, "a", ":YQ=="},
}

func TestBase64Golden(t *testing.T) {
	for _, tc := range base64Cases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendBase64(nil, tc.ch, []byte(tc.payload))
			if string(got) != tc.wire {
				t.Fatalf("AppendBase64: got %q, want %q", got, tc.wire)
			}
			buf := make([]byte, Base64Len(len(tc.payload)))
			if n := EncodeBase64(buf, tc.ch, []byte(tc.payload)); string(buf[:n]) != tc.wire {
				t.Fatalf("EncodeBase64: got %q, want %q", buf[:n], tc.wire)
			}
			ch, p, err := DecodeBase64(nil, []byte(tc.wire))
			if err != nil || ch != tc.ch || string(p) != tc.payload {
				t.Fatalf("DecodeBase64: got %d %q %v, want %d %q", ch, p, err, tc.ch, tc.payload)
			}
		})
	}
}

func TestDecodeBase64Invalid(t *testing.T) {
	for _, msg := range []string{"1T1VUOg=", "1***", "1T1VUOg==x", "0Zm9vCg"} {
		if _, _, err := DecodeBase64(nil, []byte(msg)); err == nil {
			t.Errorf("DecodeBase64(%q): got nil error, want invalid base64", msg)
		}
	}
}

func TestBase64PayloadMax(t *testing.T) {
	for _, msgLen := range []int{2, 5, 32*1024 + 1, 64 << 10} {
		n := Base64PayloadMax(msgLen)
		if got := Base64Len(n); got > msgLen {
			t.Errorf("msgLen %d: payload %d encodes to %d bytes", msgLen, n, got)
		}
		if got := Base64Len(n + 3); got <= msgLen {
			t.Errorf("msgLen %d: payload %d not maximal (%d fits)", msgLen, n, n+3)
		}
	}
}

func TestCloseSignal(t *testing.T) {
	if got := CloseMessage(Stdin); got != [2]byte{0xFF, 0x00} {
		t.Fatalf("CloseMessage(0): got % X, want FF 00", got)
	}
	cases := []struct {
		name string
		msg  []byte
		ch   byte
		ok   bool
	}{
		{"stdin", []byte{0xFF, 0x00}, Stdin, true},
		{"resize", []byte{0xFF, 0x04}, Resize, true},
		{"channel 5", []byte{0xFF, 0x05}, 0, false},
		{"channel 255", []byte{0xFF, 0xFF}, 0, false},
		{"short", []byte{0xFF}, 0, false},
		{"long", []byte{0xFF, 0x00, 0x00}, 0, false},
		{"not a close", []byte{0x00, 0x00}, 0, false},
		{"empty", nil, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := ParseCloseSignal(tc.msg, RemoteCommand)
			if tc.ok {
				if err != nil || ch != tc.ch {
					t.Fatalf("got %d %v, want %d nil", ch, err, tc.ch)
				}
				return
			}
			if !errors.Is(err, ErrCloseSignal) {
				t.Fatalf("got %d %v, want ErrCloseSignal", ch, err)
			}
		})
	}
}

func TestDecodeAllocs(t *testing.T) {
	msg := []byte{0x00, 'h', 'e', 'l', 'l', 'o'}
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		_, p, _ := Decode(msg)
		sink += len(p)
	})
	if allocs != 0 {
		t.Fatalf("Decode: got %v allocs, want 0", allocs)
	}
	cs := []byte{0xFF, 0x01}
	allocs = testing.AllocsPerRun(100, func() {
		ch, _ := ParseCloseSignal(cs, RemoteCommand)
		sink += int(ch)
	})
	if allocs != 0 {
		t.Fatalf("ParseCloseSignal: got %v allocs, want 0", allocs)
	}
}
