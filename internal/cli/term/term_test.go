package term

import (
	"bytes"
	"io"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/creack/pty"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/porthole/porthole/protocol/resize"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseDetachKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"ctrl-p,ctrl-q", []byte{16, 17}, true},
		{"ctrl-@,ctrl-_,ctrl-[", []byte{0, 31, 27}, true},
		{"a,ctrl-A", []byte{'a', 1}, true},
		{"", nil, false},
		{"ctrl-1", nil, false},
		{"ab", nil, false},
		{"ctrl-p,", nil, false},
	} {
		got, err := ParseDetachKeys(tc.in)
		if (err == nil) != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("ParseDetachKeys(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseDetachKeys(f *testing.F) {
	for _, s := range []string{"ctrl-p,ctrl-q", "a", "ctrl-@", ",", "ctrl-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseDetachKeys(s)
		if err == nil && len(keys) == 0 {
			t.Errorf("%q: no keys and no error", s)
		}
	})
}

// detachWant is the reference: input up to the first occurrence of keys,
// and whether it occurred.
func detachWant(in, keys []byte) ([]byte, bool) {
	if i := bytes.Index(in, keys); i >= 0 {
		return in[:i], true
	}
	return in, false
}

func readDetach(in, keys []byte, oneByte bool) []byte {
	var r io.Reader = bytes.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	out, _ := io.ReadAll(NewDetachReader(r, keys))
	return out
}

func TestDetachReader(t *testing.T) {
	keys := []byte{16, 17}
	for _, tc := range []struct{ name, in string }{
		{"plain", "hello"},
		{"sequence", "ls\n\x10\x11after"},
		{"broken sequence released", "a\x10b\x10\x10\x11"},
		{"prefix at end", "abc\x10"},
		{"sequence first", "\x10\x11"},
	} {
		for _, one := range []bool{false, true} {
			want, _ := detachWant([]byte(tc.in), keys)
			if got := readDetach([]byte(tc.in), keys, one); !bytes.Equal(got, want) {
				t.Errorf("%s (one byte %v): got %q, want %q", tc.name, one, got, want)
			}
		}
	}
}

func FuzzDetachReader(f *testing.F) {
	f.Add([]byte("ls\n\x10\x11after"), false)
	f.Add([]byte("a\x10b\x10\x10\x11"), true)
	f.Fuzz(func(t *testing.T, in []byte, one bool) {
		keys := []byte{16, 17}
		want, _ := detachWant(in, keys)
		if got := readDetach(in, keys, one); !bytes.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func openPty(t *testing.T) (int, func(cols, rows uint16)) {
	t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { ptm.Close(); tty.Close() })
	fd, ok := Fd(tty)
	if !ok {
		t.Fatal("pty slave is not a terminal")
	}
	return fd, func(cols, rows uint16) {
		if err := pty.Setsize(ptm, &pty.Winsize{Cols: cols, Rows: rows}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRawRestores(t *testing.T) {
	fd, _ := openPty(t)
	lflag := func() uint32 {
		st, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		return st.Lflag
	}
	if lflag()&unix.ICANON == 0 {
		t.Fatal("pty starts without ICANON")
	}
	restore, err := Raw(fd)
	if err != nil {
		t.Fatal(err)
	}
	if lflag()&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Error("raw mode kept ICANON, ECHO or ISIG")
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	_ = restore() // idempotent
	if lflag()&(unix.ICANON|unix.ECHO) != unix.ICANON|unix.ECHO {
		t.Error("restore did not bring back ICANON and ECHO")
	}
	if _, ok := Fd(bytes.NewReader(nil)); ok {
		t.Error("a bytes.Reader is a terminal")
	}
}

func TestWatchSizes(t *testing.T) {
	fd, setSize := openPty(t)
	setSize(100, 30)
	first, err := Size(fd)
	if err != nil || first != (resize.Size{Width: 100, Height: 30}) {
		t.Fatalf("Size = %v, %v; want 100x30", first, err)
	}
	s := WatchSizes(fd, resize.Size{Width: 101, Height: 31}, first)
	defer s.Stop()
	for _, want := range []resize.Size{{Width: 101, Height: 31}, first} {
		if got := <-s.C; got != want {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	setSize(132, 43)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-s.C:
		if got != (resize.Size{Width: 132, Height: 43}) {
			t.Errorf("after SIGWINCH got %v, want 132x43", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no size after SIGWINCH")
	}
}
