package spdy

import (
	"bytes"
	"net/http"
	"testing"

	fr "github.com/moby/spdystream/spdy"
)

// TestStreamWatch: the watch finds the error stream among client-go's
// streams, whatever the chunking of the byte stream, with data frames and
// pings in between.
func TestStreamWatch(t *testing.T) {
	var buf bytes.Buffer
	f, err := fr.NewFramer(&buf, &buf)
	if err != nil {
		t.Fatal(err)
	}
	write := func(frame fr.Frame) {
		if err := f.WriteFrame(frame); err != nil {
			t.Fatal(err)
		}
	}
	write(&fr.PingFrame{Id: 1})
	for i, typ := range []string{"stdin", "stdout", "error", "stderr"} {
		id := fr.StreamId(2*i + 1)
		write(&fr.SynStreamFrame{StreamId: id, Headers: http.Header{"Streamtype": {typ}, "Requestid": {"0"}}})
		write(&fr.DataFrame{StreamId: id, Data: bytes.Repeat([]byte{'x'}, 100*i)})
	}
	stream := buf.Bytes()
	for _, chunk := range []int{1, 7, 4096} {
		w := NewStreamWatch()
		for p := stream; len(p) > 0; {
			n := min(chunk, len(p))
			if err := w.Feed(p[:n]); err != nil {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
			p = p[n:]
		}
		if got := w.ErrorStream(); got != 5 {
			t.Errorf("chunk %d: error stream %d, want 5", chunk, got)
		}
	}
}

// FuzzStreamWatch: any byte stream, in any chunking, is followed without
// panic, and the watch stops at the first error.
func FuzzStreamWatch(f *testing.F) {
	var buf bytes.Buffer
	fw, err := fr.NewFramer(&buf, &buf)
	if err != nil {
		f.Fatal(err)
	}
	fw.WriteFrame(&fr.SynStreamFrame{StreamId: 1, Headers: http.Header{"Streamtype": {"error"}}})
	fw.WriteFrame(&fr.DataFrame{StreamId: 1, Data: []byte("x")})
	f.Add(buf.Bytes(), 3)
	f.Add([]byte{0x80, 3, 0, 1, 0, 0, 0, 2, 0, 0}, 1)
	f.Fuzz(func(t *testing.T, b []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		w := NewStreamWatch()
		var failed error
		for p := b; len(p) > 0; {
			n := min(chunk, len(p))
			if err := w.Feed(p[:n]); err != nil {
				if failed == nil {
					failed = err
				} else if err != failed {
					t.Fatalf("error changed from %v to %v", failed, err)
				}
			}
			p = p[n:]
		}
	})
}
