// Package resize encodes and decodes terminal size messages, the JSON stream
// {"Width":cols,"Height":rows} carried on the resize channel (WebSocket
// channel 4, SPDY "resize" stream). See PROTOCOL.md section 3.7.
//
// Objects may be split or concatenated across messages, so the decoder works
// on a byte stream, not on messages.
package resize

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Size is a terminal size in character cells.
type Size struct {
	Width  uint16 `json:"Width"`
	Height uint16 `json:"Height"`
}

// MaxMessage bounds one JSON object; anything larger is not a resize.
const MaxMessage = 1 << 10

// ErrTooLarge reports a resize object longer than MaxMessage.
var ErrTooLarge = errors.New("resize message too large")

// Append appends the wire form of s, as client-go writes it (object then '\n').
func Append(b []byte, s Size) []byte {
	b = append(b, `{"Width":`...)
	b = appendUint(b, s.Width)
	b = append(b, `,"Height":`...)
	b = appendUint(b, s.Height)
	return append(b, "}\n"...)
}

func appendUint(b []byte, v uint16) []byte {
	var tmp [5]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// Decoder reads successive sizes from a stream. It is not safe for concurrent use.
type Decoder struct {
	lr  *limitedReader
	dec *json.Decoder
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	lr := &limitedReader{r: r}
	return &Decoder{lr: lr, dec: json.NewDecoder(lr)}
}

// Decode returns the next size. It returns io.EOF at the clean end of the
// stream, ErrTooLarge for an object over MaxMessage, and a *DecodeError for
// malformed input.
func (d *Decoder) Decode() (Size, error) {
	d.lr.n = 0
	var s Size
	if err := d.dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, ErrTooLarge) {
			return Size{}, err
		}
		return Size{}, &DecodeError{Err: err}
	}
	return s, nil
}

// DecodeError is a malformed resize message.
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string { return fmt.Sprintf("malformed resize message: %v", e.Err) }
func (e *DecodeError) Unwrap() error { return e.Err }

// limitedReader fails once one object has consumed more than MaxMessage bytes
// (the json.Decoder buffers, so this counts bytes handed to it per Decode).
type limitedReader struct {
	r io.Reader
	n int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n >= MaxMessage {
		return 0, ErrTooLarge
	}
	if len(p) > MaxMessage-l.n {
		p = p[:MaxMessage-l.n]
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}
