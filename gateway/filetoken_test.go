package gateway

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFileTokenRotates: the token is read again once a minute has passed,
// and a file gone bad keeps the last good token.
func TestFileTokenRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Unix(1000, 0)
	f := &fileToken{path: path, now: func() time.Time { return now }}
	write("one\n")
	for _, step := range []struct {
		advance time.Duration
		file    string // "" leaves the file alone; "-" removes it
		want    string
		wantErr bool
	}{
		{0, "", "one", false},
		{30 * time.Second, "two", "one", false}, // within the minute: cached
		{31 * time.Second, "", "two", false},    // a minute on: read again
		{2 * time.Minute, "-", "two", true},     // gone: the last token, and why
		{0, "three", "three", false},
	} {
		now = now.Add(step.advance)
		switch step.file {
		case "":
		case "-":
			os.Remove(path)
		default:
			write(step.file)
		}
		got, err := f.get()
		if got != step.want || (err != nil) != step.wantErr {
			t.Fatalf("after %v with file %q: %q, %v; want %q (error %v)", step.advance, step.file, got, err, step.want, step.wantErr)
		}
	}
}
