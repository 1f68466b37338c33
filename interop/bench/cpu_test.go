package bench

import (
	"fmt"
	"os"
	"testing"
)

var statCases = []struct {
	name string
	stat string
	want uint64
	ok   bool
}{
	{"typical", "1234 (crirefd) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 9 0 100 0 0", 325, true},
	{"name with spaces and parens", "7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 0 0", 7, true},
	{"short", "7 (x) R 1 7", 0, false},
	{"no name", "7 x R 1 7 7 0 -1 0 0 0 0 0 3 4", 0, false},
	{"bad number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 three 4 0", 0, false},
	{"overflow", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 18446744073709551615 1 0", 0, false},
}

func TestParseStatCPU(t *testing.T) {
	for _, c := range statCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(c.stat))
			if (err == nil) != c.ok {
				t.Fatalf("got error %v, want ok=%v", err, c.ok)
			}
			if got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}

// FuzzParseStatCPU: never panics; a well-formed line gives back the sum.
func FuzzParseStatCPU(f *testing.F) {
	for _, c := range statCases {
		f.Add([]byte(c.stat), uint32(3), uint32(4))
	}
	f.Fuzz(func(t *testing.T, stat []byte, u, s uint32) {
		_, _ = parseStatCPU(stat)
		line := fmt.Sprintf("9 (n) S 1 9 9 0 -1 0 0 0 0 0 %d %d 0 0 20 0 1 0 1 0 0", u, s)
		got, err := parseStatCPU([]byte(line))
		if err != nil || got != uint64(u)+uint64(s) {
			t.Fatalf("%q: got %d, %v", line, got, err)
		}
	})
}

func TestCPUOfSelf(t *testing.T) {
	n := &Node{PID: os.Getpid()}
	if _, err := n.CPU(); err != nil {
		t.Fatal(err)
	}
}
