package channel

import (
	"bytes"
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, tc := range binaryCases {
		f.Add(tc.wire)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		ch, p, err := Decode(msg)
		if err != nil {
			if len(msg) != 0 {
				t.Fatalf("Decode(% X): unexpected %v", msg, err)
			}
			return
		}
		if got := Append(nil, ch, p); !bytes.Equal(got, msg) {
			t.Fatalf("round trip: got % X, want % X", got, msg)
		}
	})
}

func FuzzDecodeBase64(f *testing.F) {
	for _, tc := range base64Cases {
		f.Add([]byte(tc.wire))
	}
	f.Add([]byte("1T1VUOg="))
	f.Fuzz(func(t *testing.T, msg []byte) {
		ch, p, err := DecodeBase64(nil, msg)
		if err != nil {
			return
		}
		again := AppendBase64(nil, ch, p)
		ch2, p2, err := DecodeBase64(nil, again)
		if err != nil || ch2 != ch || !bytes.Equal(p2, p) {
			t.Fatalf("round trip of %q: got %d %q %v, want %d %q", msg, ch2, p2, err, ch, p)
		}
	})
}

func FuzzBase64RoundTrip(f *testing.F) {
	for _, tc := range base64Cases {
		f.Add(tc.ch, []byte(tc.payload))
	}
	f.Fuzz(func(t *testing.T, ch byte, payload []byte) {
		msg := AppendBase64(nil, ch, payload)
		if len(msg) != Base64Len(len(payload)) {
			t.Fatalf("length: got %d, want %d", len(msg), Base64Len(len(payload)))
		}
		got, p, err := DecodeBase64(nil, msg)
		if err != nil || got != ch || !bytes.Equal(p, payload) {
			t.Fatalf("got %d %q %v, want %d %q", got, p, err, ch, payload)
		}
	})
}

func FuzzParseCloseSignal(f *testing.F) {
	f.Add([]byte{0xFF, 0x00}, 5)
	f.Add([]byte{0xFF}, 5)
	f.Add([]byte{0xFF, 0x09, 0x01}, 5)
	f.Fuzz(func(t *testing.T, msg []byte, channels int) {
		ch, err := ParseCloseSignal(msg, channels)
		if err != nil {
			return
		}
		if len(msg) != 2 || msg[0] != CloseSignal || int(ch) >= channels || CloseMessage(ch) != [2]byte(msg) {
			t.Fatalf("accepted % X for %d channels as %d", msg, channels, ch)
		}
	})
}
