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
