package term

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultDetachKeys is kubectl's (and docker's) detach sequence.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys parses a docker-style key sequence: comma-separated keys,
// each a single character or "ctrl-X" with X one of a-z, @, [, \, ], ^, _.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty detach key sequence")
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				out = append(out, c-'A'+1)
			case c >= '@' && c <= '_':
				out = append(out, c-'@')
			default:
				return nil, fmt.Errorf("unknown detach key %q", k)
			}
		default:
			return nil, fmt.Errorf("unknown detach key %q", k)
		}
	}
	return out, nil
}

// DetachReader passes r through until keys are typed in sequence, then
// reports io.EOF (so the session half-closes stdin, as kubectl does). Bytes
// that start the sequence are held back until it is complete (swallowed) or
// broken (released).
type DetachReader struct {
	r       io.Reader
	keys    []byte
	matched int    // bytes of keys matched so far, held back
	pending []byte // bytes to hand out before reading again
	done    bool   // the sequence was typed
	err     error  // the source's error, returned once pending is empty
	buf     []byte // read buffer, as large as the largest p so far
}

// NewDetachReader returns a DetachReader; keys must not be empty.
func NewDetachReader(r io.Reader, keys []byte) *DetachReader {
	return &DetachReader{r: r, keys: keys}
}

func (d *DetachReader) Read(p []byte) (int, error) {
	for {
		if len(d.pending) > 0 {
			n := copy(p, d.pending)
			d.pending = d.pending[n:]
			return n, nil
		}
		if d.done {
			return 0, io.EOF
		}
		if d.err != nil {
			return 0, d.err
		}
		if cap(d.buf) < len(p) {
			d.buf = make([]byte, max(len(p), 1))
		}
		n, err := d.r.Read(d.buf[:max(len(p), 1)])
		d.scan(d.buf[:n])
		if err != nil && !d.done {
			// the source ended inside a partial match: those were keystrokes
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched = 0
			d.err = err
		}
	}
}

// scan moves input bytes to pending, holding back a partial match.
func (d *DetachReader) scan(in []byte) {
	for _, b := range in {
		if d.done {
			return
		}
		if b == d.keys[d.matched] {
			d.matched++
			if d.matched == len(d.keys) {
				d.done, d.matched = true, 0
			}
			continue
		}
		d.pending = append(d.pending, d.keys[:d.matched]...)
		d.matched = 0
		if b == d.keys[0] {
			d.matched = 1
			if len(d.keys) == 1 {
				d.done, d.matched = true, 0
			}
			continue
		}
		d.pending = append(d.pending, b)
	}
}
