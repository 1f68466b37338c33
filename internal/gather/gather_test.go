package gather_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/porthole/porthole/internal/gather"
)

// calls records each write call it gets, and takes at most max bytes per
// call when max > 0 (then failing, as a socket past its deadline does).
type calls struct {
	got [][]byte
	max int
}

func (c *calls) Write(p []byte) (int, error) {
	if c.max > 0 && len(p) > c.max {
		c.got = append(c.got, append([]byte(nil), p[:c.max]...))
		return c.max, errors.New("cut")
	}
	c.got = append(c.got, append([]byte(nil), p...))
	return len(p), nil
}

type gatherer struct{ calls }

func (g *gatherer) WriteBuffers(b *net.Buffers) (int64, error) {
	var all []byte
	for _, p := range *b {
		all = append(all, p...)
	}
	n, err := g.Write(all)
	for left := n; left > 0; {
		k := min(left, len((*b)[0]))
		(*b)[0] = (*b)[0][k:]
		left -= k
		if len((*b)[0]) == 0 {
			*b = (*b)[1:]
		}
	}
	return int64(n), err
}

func TestToGathersThroughWriter(t *testing.T) {
	g := &gatherer{}
	b := net.Buffers{[]byte("hdr"), []byte("payload"), []byte("more")}
	n, err := gather.To(g, &b)
	if err != nil || n != 14 || len(b) != 0 {
		t.Fatalf("To = %d, %v, %d buffers left", n, err, len(b))
	}
	if len(g.got) != 1 || string(g.got[0]) != "hdrpayloadmore" {
		t.Errorf("writes %q, want one of all three buffers", g.got)
	}
}

func TestToFallsBackToWrites(t *testing.T) {
	c := &calls{}
	b := net.Buffers{[]byte("hdr"), []byte("payload")}
	n, err := gather.To(c, &b)
	if err != nil || n != 10 || len(b) != 0 {
		t.Fatalf("To = %d, %v, %d buffers left", n, err, len(b))
	}
	if len(c.got) != 2 || string(c.got[0]) != "hdr" || string(c.got[1]) != "payload" {
		t.Errorf("writes %q, want one per buffer", c.got)
	}
}

func TestEach(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int
		bufs     []string
		wantN    int64
		wantErr  bool
		wantLeft string // what *b holds after
	}{
		{"all", 0, []string{"ab", "", "cde"}, 5, false, ""},
		{"none", 0, nil, 0, false, ""},
		{"cut in the second", 3, []string{"ab", "cdef"}, 5, true, "f"},
		{"cut in the first", 1, []string{"ab", "cd"}, 1, true, "bcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &calls{max: tc.max}
			var b net.Buffers
			for _, s := range tc.bufs {
				b = append(b, []byte(s))
			}
			n, err := gather.Each(c.Write, &b)
			if n != tc.wantN || (err != nil) != tc.wantErr {
				t.Fatalf("Each = %d, %v; want %d, error %v", n, err, tc.wantN, tc.wantErr)
			}
			if left := bytes.Join(b, nil); string(left) != tc.wantLeft {
				t.Errorf("left %q, want %q", left, tc.wantLeft)
			}
		})
	}
}

func TestEachShortWrite(t *testing.T) {
	short := func(p []byte) (int, error) { return len(p) / 2, nil }
	b := net.Buffers{[]byte("abcd")}
	n, err := gather.Each(short, &b)
	if n != 2 || !errors.Is(err, io.ErrShortWrite) || string(b[0]) != "cd" {
		t.Errorf("Each = %d, %v, left %q; want 2, short write, \"cd\"", n, err, b)
	}
}
