package resize

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestAppendGolden(t *testing.T) {
	tests := []struct {
		s    Size
		want string
	}{
		{Size{80, 24}, "{\"Width\":80,\"Height\":24}\n"},
		{Size{0, 0}, "{\"Width\":0,\"Height\":0}\n"},
		{Size{65535, 1}, "{\"Width\":65535,\"Height\":1}\n"},
	}
	for _, tc := range tests {
		if got := string(Append(nil, tc.s)); got != tc.want {
			t.Errorf("Append(%v): got %q, want %q", tc.s, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Append(make([]byte, 0, 64)[:0], Size{80, 24}) }); n > 1 {
		t.Errorf("Append allocates %v times", n)
	}
}

// chunked returns the input one byte per Read, like messages split anywhere.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p[:1]) }

func TestDecoder(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []Size
		err   error // after the sizes; nil means clean EOF
	}{
		{"one", `{"Width":80,"Height":24}` + "\n", []Size{{80, 24}}, nil},
		{"concatenated", `{"Width":1,"Height":2}{"Width":3,"Height":4}`, []Size{{1, 2}, {3, 4}}, nil},
		{"lower case names", `{"width":5,"height":6}`, []Size{{5, 6}}, nil},
		{"empty stream", ``, nil, nil},
		{"not json", `hello`, nil, &DecodeError{}},
		{"string width", `{"Width":"wide"}`, nil, &DecodeError{}},
		{"negative", `{"Width":-1,"Height":2}`, nil, &DecodeError{}},
		{"overflow", `{"Width":65536,"Height":2}`, nil, &DecodeError{}},
		{"too large", `{"Width":1,"Height":2,"x":"` + strings.Repeat("a", MaxMessage) + `"}`, nil, ErrTooLarge},
	}
	for _, tc := range tests {
		for _, split := range []bool{false, true} {
			name := tc.name
			if split {
				name += "/byte by byte"
			}
			t.Run(name, func(t *testing.T) {
				var r io.Reader = strings.NewReader(tc.input)
				if split {
					r = chunked{r}
				}
				d := NewDecoder(r)
				for i, want := range tc.want {
					got, err := d.Decode()
					if err != nil || got != want {
						t.Fatalf("size %d: got %v, %v, want %v", i, got, err, want)
					}
				}
				_, err := d.Decode()
				switch want := tc.err.(type) {
				case nil:
					if !errors.Is(err, io.EOF) {
						t.Fatalf("end: got %v, want io.EOF", err)
					}
				case *DecodeError:
					var de *DecodeError
					if !errors.As(err, &de) {
						t.Fatalf("end: got %v, want a *DecodeError", err)
					}
				default:
					if !errors.Is(err, want) {
						t.Fatalf("end: got %v, want %v", err, want)
					}
				}
			})
		}
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(`{"Width":80,"Height":24}` + "\n"))
	f.Add([]byte(`{"Width":1,"Height":2}{"Width":3,"Height":4}`))
	f.Add([]byte(`{"Width":"wide"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(bytes.NewReader(b))
		for i := 0; i < len(b)+1; i++ {
			s, err := d.Decode()
			if err != nil {
				return
			}
			// Round trip: what decodes re-encodes to something that decodes the same.
			back, err := NewDecoder(bytes.NewReader(Append(nil, s))).Decode()
			if err != nil || back != s {
				t.Fatalf("round trip of %v: got %v, %v", s, back, err)
			}
		}
	})
}
