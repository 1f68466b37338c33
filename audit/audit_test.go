package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecordingKeepsRunesWhole(t *testing.T) {
	clock := time.Unix(1000, 0)
	r := &Recorder{Dir: t.TempDir(), Now: func() time.Time { clock = clock.Add(500 * time.Millisecond); return clock }}
	rec, err := r.Start("ns/pod 1", "title", 100, 40)
	if err != nil {
		t.Fatal(err)
	}
	want := "a€b\x1b[0m😀"
	b := []byte(want)
	for i := range b { // one byte at a time: every multi-byte rune is split
		rec.Write(b[i : i+1])
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(rec.Path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var h Header
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil || h.Version != 2 || h.Width != 100 || h.Height != 40 || h.Timestamp != 1000 {
		t.Fatalf("header %q: %v", lines[0], err)
	}
	var got strings.Builder
	last := -1.0
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 || ev[1] != "o" {
			t.Fatalf("event %q: %v", l, err)
		}
		if ts := ev[0].(float64); ts < last {
			t.Errorf("time went back: %v after %v", ts, last)
		} else {
			last = ts
		}
		s := ev[2].(string)
		if strings.ContainsRune(s, '\uFFFD') {
			t.Errorf("event %q holds a broken rune", l)
		}
		got.WriteString(s)
	}
	if got.String() != want {
		t.Errorf("replay %q, want %q", got.String(), want)
	}
}

func TestJSONLogOneLinePerEvent(t *testing.T) {
	var buf bytes.Buffer
	l := NewJSONLog(&buf)
	code := 3
	l.Record(Event{Stage: StageStart, ID: "1", User: "u", Verb: "exec"})
	l.Record(Event{Stage: StageEnd, ID: "1", User: "u", Verb: "exec", ExitCode: &code, BytesIn: 5})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var e Event
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Stage != StageEnd || *e.ExitCode != 3 || e.BytesIn != 5 {
		t.Errorf("got %+v %v", e, err)
	}
}

// TestRecorderClosedHook: the Closed hook gets the path once, after the
// file is complete on disk, however many times Close is called.
func TestRecorderClosedHook(t *testing.T) {
	dir := t.TempDir()
	var got []string
	var size int64
	r := &Recorder{Dir: dir, Closed: func(p string) {
		got = append(got, p)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		size = fi.Size()
	}}
	rec, err := r.StartOwned("s1", "t", "alice", 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	rec.Write([]byte("hello"))
	if len(got) != 0 {
		t.Fatalf("hook before Close: %v", got)
	}
	rec.Close()
	rec.Close()
	want := filepath.Join(dir, "s1.cast")
	if len(got) != 1 || got[0] != want {
		t.Fatalf("hook calls %v, want [%s]", got, want)
	}
	b, _ := os.ReadFile(want)
	if size != int64(len(b)) || !strings.Contains(string(b), `"hello"`) {
		t.Errorf("at the hook the file had %d bytes, complete it has %d: %q", size, len(b), b)
	}
}
