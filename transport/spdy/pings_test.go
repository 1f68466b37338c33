package spdy

import (
	"encoding/binary"
	"testing"
)

func TestKeepAlivePings(t *testing.T) {
	var k KeepAlivePings
	if k.Answers(KeepAlivePingID) {
		t.Error("an answer before any PING was sent")
	}
	for i, want := range []uint32{0x7ffffffe, 0x7ffffffc, 0x7ffffffa} {
		f := k.Next()
		if f[0] != 0x80 || f[1] != 3 || f[3] != typePing || binary.BigEndian.Uint32(f[4:8]) != 4 {
			t.Fatalf("PING %d: frame % x is no SPDY/3 PING of length 4", i, f)
		}
		if id := binary.BigEndian.Uint32(f[8:]); id != want {
			t.Errorf("PING %d: id %#x, want %#x", i, id, want)
		}
	}
	for _, tc := range []struct {
		id   uint32
		want bool
	}{
		{0x7ffffffe, true}, {0x7ffffffa, true},
		{0x7ffffff8, false}, // not sent yet
		{0x7ffffffd, false}, // odd: a client's own PING
		{0x7fffffff, false}, {2, false}, {1, false},
	} {
		if got := k.Answers(tc.id); got != tc.want {
			t.Errorf("Answers(%#x) = %v, want %v", tc.id, got, tc.want)
		}
	}
	k.sent = (KeepAlivePingID - 2) / 2 // the next ID is 2, the last
	if f := k.Next(); binary.BigEndian.Uint32(f[8:]) != 2 {
		t.Fatalf("the last PING's id is %#x, want 2", binary.BigEndian.Uint32(f[8:]))
	}
	if f := k.Next(); binary.BigEndian.Uint32(f[8:]) != KeepAlivePingID {
		t.Errorf("after 2 the ids wrap to %#x, want %#x", binary.BigEndian.Uint32(f[8:]), KeepAlivePingID)
	}
	if k.Answers(2) {
		t.Error("an answer to a PING from before the wrap still counts")
	}
}
