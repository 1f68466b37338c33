package harness

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestDivergence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	want := make([]byte, 64<<10)
	if _, err := io.ReadFull(NewDataReader(1), want); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	hole := append(append([]byte{}, want[:1000]...), want[9000:]...)
	other := append([]byte{}, want...)
	other[500] ^= 1
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"same", want, "identical"},
		{"tail", want[:30000], "a prefix: the first 30000 bytes, the last 35536 missing"},
		{"hole", hole, "a hole at offset 1000: 8000 bytes missing, then the file goes on"},
		{"flipped", other, "first difference at offset 500 (got 65536 bytes, want 65536)"},
	} {
		if got := Divergence(tc.got, path); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSizeLine: stty's answer is found alone and after the shell's prompt
// (CI saw "# 21 71" when the prompt raced the typed-ahead line), never in
// the echo of the command.
func TestSizeLine(t *testing.T) {
	for line, want := range map[string]string{
		"21 71": "21 71", "  33 111 ": "33 111", "# 21 71": "21 71", "$ 24 80": "24 80", "# # 5 6": "5 6",
		"stty size": "", "# stty size": "", "If you don't see a command prompt, try pressing enter.": "", "# ": "",
	} {
		got := ""
		if m := sizeLine.FindStringSubmatch(line); m != nil {
			got = m[1] + " " + m[2]
		}
		if got != want {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
	}
}
