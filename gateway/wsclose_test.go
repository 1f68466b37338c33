package gateway

import (
	"bytes"
	"net"
	"testing"
)

// TestWSCloserBoundaries: a close frame goes out only between the
// upstream's frames, never after the upstream's own close frame, once.
func TestWSCloserBoundaries(t *testing.T) {
	frame := append([]byte{0x82, 5}, "hello"...)
	closeFrame := []byte{0x88, 2, 0x03, 0xe8}
	for _, tc := range []struct {
		name    string
		written []byte
		want    bool
	}{
		{"nothing yet", nil, true},
		{"after a whole frame", frame, true},
		{"inside a payload", frame[:4], false},
		{"inside a header", frame[:1], false},
		{"after a 16-bit length frame", append([]byte{0x82, 126, 0, 200}, make([]byte, 200)...), true},
		{"after the upstream's close", append(append([]byte{}, frame...), closeFrame...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			got := make(chan []byte, 1)
			go func() {
				var buf bytes.Buffer
				p := make([]byte, 1024)
				for {
					n, err := b.Read(p)
					buf.Write(p[:n])
					if err != nil {
						got <- buf.Bytes()
						return
					}
				}
			}()
			w := newWSCloser(a)
			if len(tc.written) > 0 {
				w.Write(tc.written)
			}
			if ok := w.closeWith(closePolicy, "why"); ok != tc.want {
				t.Errorf("closeWith: %v, want %v", ok, tc.want)
			}
			if tc.want && w.closeWith(closePolicy, "again") {
				t.Error("a second close frame")
			}
			a.Close()
			out := <-got
			wantClose := []byte{0x88, 5, 0x03, 0xf0, 'w', 'h', 'y'}
			if tc.want != bytes.HasSuffix(out, wantClose) {
				t.Errorf("wire %x: close frame present %v, want %v", out, !tc.want, tc.want)
			}
		})
	}
}
