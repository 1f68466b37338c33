package gateway

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	fr "github.com/moby/spdystream/spdy"

	"github.com/porthole/porthole/internal/streamtest/wiretest"
)

// TestSPDYStreamsByType: a spliced SPDY session's streams are known by the
// types their SYN_STREAMs name, not by client-go's order: a client opening
// resize, stdout, error, stdin in that order gets its stdout recorded, its
// sizes noted and its error stream known to the closer.
func TestSPDYStreamsByType(t *testing.T) {
	frames := func(fs ...fr.Frame) []byte { return wiretest.SPDYFrames(t, fs...) }
	ids := &spdyStreamIDs{}
	var sizes []string
	inspect := newSPDYInspect(1<<20, func(p []byte) { sizes = append(sizes, string(p)) }, ids)
	var client []fr.Frame
	for i, typ := range []string{"resize", "stdout", "error", "stdin"} {
		client = append(client, &fr.SynStreamFrame{StreamId: fr.StreamId(2*i + 1), Headers: http.Header{"Streamtype": {typ}}})
	}
	client = append(client, &fr.DataFrame{StreamId: 1, Data: []byte(`{"Width":80,"Height":24}`)},
		&fr.DataFrame{StreamId: 7, Data: []byte("typed")})
	b := frames(client...)
	for i := range b { // one byte at a time
		if err := inspect.feed(b[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if ids.stdoutID.Load() != 3 || ids.errorID.Load() != 5 {
		t.Fatalf("stdout %d, error %d: want 3 and 5", ids.stdoutID.Load(), ids.errorID.Load())
	}
	if got := strings.Join(sizes, ""); got != `{"Width":80,"Height":24}` { // in pieces, as they pass
		t.Errorf("sizes %q", got)
	}
	var rec bytes.Buffer
	tap := newSPDYOutput(&rec, ids)
	up := frames(&fr.SynReplyFrame{StreamId: 3, Headers: http.Header{}},
		&fr.DataFrame{StreamId: 3, Data: []byte("out")},
		&fr.DataFrame{StreamId: 7, Data: []byte("not stdout")},
		&fr.DataFrame{StreamId: 3, Data: []byte("put"), Flags: fr.DataFlagFin})
	for i := 0; i < len(up); i += 5 {
		if err := tap.feed(up[i:min(i+5, len(up))]); err != nil {
			t.Fatal(err)
		}
	}
	if rec.String() != "output" {
		t.Errorf("recorded %q, want stdout's %q", rec.String(), "output")
	}
}
