package bench

import (
	"fmt"
	"math"
	"testing"
)

var vmRSSCases = []struct {
	name   string
	status string
	want   uint64
	ok     bool
}{
	{"typical", "Name:\tcat\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n", 1234 * 1024, true},
	{"first line", "VmRSS: 1 kB", 1024, true},
	{"zero", "VmRSS:\t0 kB\n", 0, true},
	{"missing", "Name:\tkthreadd\nThreads:\t1\n", 0, false},
	{"not kB", "VmRSS:\t12 MB\n", 0, false},
	{"not a number", "VmRSS:\tlots kB\n", 0, false},
	{"overflow", "VmRSS:\t18446744073709551615 kB\n", 0, false},
}

func TestParseVmRSS(t *testing.T) {
	for _, c := range vmRSSCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(c.status))
			if (err == nil) != c.ok {
				t.Fatalf("got error %v, want ok=%v", err, c.ok)
			}
			if got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}

// FuzzParseVmRSS: never panics, and a well-formed line parses back to the
// number written.
func FuzzParseVmRSS(f *testing.F) {
	for _, c := range vmRSSCases {
		f.Add([]byte(c.status), uint64(7))
	}
	f.Fuzz(func(t *testing.T, status []byte, kb uint64) {
		_, _ = parseVmRSS(status)
		kb %= 1 << 40
		got, err := parseVmRSS([]byte(fmt.Sprintf("Name:\tx\nVmRSS:\t%d kB\n", kb)))
		if err != nil || got != kb*1024 {
			t.Fatalf("VmRSS %d kB: got %d, %v", kb, got, err)
		}
	})
}

var openFileLimitCases = []struct {
	name   string
	limits string
	want   int
	ok     bool
}{
	{"typical", "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            20000                20000                files     \n", 20000, true},
	{"unlimited", "Max open files            unlimited            unlimited            files\n", math.MaxInt32, true},
	{"missing", "Max processes             96369                96369                processes\n", 0, false},
	{"empty value", "Max open files", 0, false},
	{"not a number", "Max open files            many                 many                 files\n", 0, false},
	{"negative", "Max open files            -1                   -1                   files\n", 0, false},
}

func TestParseOpenFileLimit(t *testing.T) {
	for _, c := range openFileLimitCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseOpenFileLimit([]byte(c.limits))
			if (err == nil) != c.ok {
				t.Fatalf("got error %v, want ok=%v", err, c.ok)
			}
			if got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}

// FuzzParseOpenFileLimit: never panics, and a well-formed line parses back
// to the number written.
func FuzzParseOpenFileLimit(f *testing.F) {
	for _, c := range openFileLimitCases {
		f.Add([]byte(c.limits), uint32(7))
	}
	f.Fuzz(func(t *testing.T, limits []byte, n uint32) {
		_, _ = parseOpenFileLimit(limits)
		v := int(n % (1 << 30))
		got, err := parseOpenFileLimit([]byte(fmt.Sprintf("Max cpu time  unlimited  unlimited  seconds\nMax open files  %d  %d  files\n", v, v)))
		if err != nil || got != v {
			t.Fatalf("limit %d: got %d, %v", v, got, err)
		}
	})
}

func TestParentInStat(t *testing.T) {
	tests := []struct {
		stat string
		want int
		ok   bool
	}{
		{"42 (porthole) S 7 42 42 0 -1", 7, true},
		{"42 (a) b (c) S 9 42", 9, true},
		{"42 (x y) R 1 2", 1, true},
		{"42 (cut", 0, false},
		{"42 (x) S", 0, false},
		{"42 (x) S nope", 0, false},
	}
	for _, tt := range tests {
		got, ok := parentInStat([]byte(tt.stat))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q: got %d, %v; want %d, %v", tt.stat, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseStatusKB(t *testing.T) {
	status := []byte("Name:\tporthole\nVmRSS:\t    9488 kB\nRssAnon:\t    1064 kB\nRssFile:\t    8424 kB\nRssShmem:\t       0 kB\n")
	for _, c := range []struct {
		field string
		want  uint64
	}{{"VmRSS:", 9488 << 10}, {"RssAnon:", 1064 << 10}, {"RssShmem:", 0}} {
		if got, err := parseStatusKB(status, c.field); err != nil || got != c.want {
			t.Errorf("%s: got %d, %v; want %d", c.field, got, err, c.want)
		}
	}
	if _, err := parseStatusKB(status, "RssHuge:"); err == nil || err.Error() != "no RssHuge line" {
		t.Errorf("a missing field: got %v, want an error naming it", err)
	}
}
