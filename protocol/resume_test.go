package protocol

import (
	"errors"
	"testing"
)

func TestParseOffsets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Offsets
		ok   bool
	}{
		{"", Offsets{}, true},
		{"stdout=5", Offsets{Stdout: 5}, true},
		{"stdin=1,stdout=2,stderr=3,error=4", Offsets{1, 2, 3, 4}, true},
		{"error=9,stdin=0", Offsets{Error: 9}, true},
		{"stdout=5,stdout=6", Offsets{}, false},
		{"stdout=-1", Offsets{}, false},
		{"stdout=+1", Offsets{}, false},
		{"stdout=", Offsets{}, false},
		{"stdout", Offsets{}, false},
		{"tty=1", Offsets{}, false},
		{"stdout=99999999999999999999", Offsets{}, false},
		{"stdout=1,", Offsets{}, false},
	} {
		got, err := ParseOffsets(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseOffsets(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadOffsets) {
			t.Errorf("ParseOffsets(%q): error %v is not ErrBadOffsets", tc.in, err)
		}
	}
	long := "stdout=1" + string(make([]byte, 200))
	if _, err := ParseOffsets(long); err == nil {
		t.Error("an over-long line was accepted")
	}
}

func TestFormatOffsetsRoundTrip(t *testing.T) {
	for _, o := range []Offsets{{}, {Stdin: 1}, {1, 2, 3, 4}, {Stdout: 1 << 62, Error: 7}} {
		got, err := ParseOffsets(FormatOffsets(o))
		if err != nil || got != o {
			t.Errorf("%+v: round trip gave %+v, %v", o, got, err)
		}
	}
}

func FuzzParseOffsets(f *testing.F) {
	for _, s := range []string{"", "stdout=5", "stdin=1,stdout=2,stderr=3,error=4", "x=1", "stdout=-1,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOffsets(s)
		if err != nil {
			return
		}
		if o.Stdin < 0 || o.Stdout < 0 || o.Stderr < 0 || o.Error < 0 {
			t.Fatalf("%q: negative offsets %+v", s, o)
		}
		back, err := ParseOffsets(FormatOffsets(o))
		if err != nil || back != o {
			t.Fatalf("%q: %+v does not round-trip: %+v %v", s, o, back, err)
		}
	})
}
