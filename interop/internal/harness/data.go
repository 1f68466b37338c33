package harness

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
)

// MiB is a mebibyte.
const MiB = 1 << 20

// DataFile is a deterministic binary file on disk and its SHA-256.
type DataFile struct {
	Path   string
	Size   int64
	SHA256 string
}

// WriteDataFile writes size bytes of deterministic pseudo-random data to
// path. The stream comes from a ChaCha8 generator with a fixed seed, so two
// runs produce the same bytes, and every 256-byte block starts with the 256
// byte values in order so the file provably contains all of them (including
// 0x00, 0xFF, '\r', '\n' and 0x03/0x04 that a tty or a broken framing would
// mangle).
func WriteDataFile(path string, size int64, seed uint64) (*DataFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create data file: %w", err)
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<16)
	_, err = io.CopyN(w, NewDataReader(seed), size)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write data file %s: %w", path, err)
	}
	return &DataFile{Path: path, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// NewDataReader returns an endless deterministic byte stream: in every 4 KiB
// block the first 256 bytes are 0x00..0xFF, the rest pseudo-random.
func NewDataReader(seed uint64) io.Reader {
	var s [32]byte
	for i := range 4 {
		s[i*8] = byte(seed >> (8 * i))
	}
	return &dataReader{rng: rand.NewChaCha8(s)}
}

type dataReader struct {
	rng *rand.ChaCha8
	off int
	buf [4096]byte
}

func (d *dataReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.off == 0 {
			for i := range 256 {
				d.buf[i] = byte(i)
			}
			_, _ = d.rng.Read(d.buf[256:])
		}
		c := copy(p[n:], d.buf[d.off:])
		n += c
		d.off = (d.off + c) % len(d.buf)
	}
	return n, nil
}

// HashWriter is an io.Writer that keeps a running SHA-256 and byte count,
// so 64 MiB outputs are checked without holding them in memory.
type HashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

// NewHashWriter returns an empty HashWriter.
func NewHashWriter() *HashWriter { return &HashWriter{h: sha256.New()} }

func (w *HashWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

// Sum returns the hex SHA-256 of everything written.
func (w *HashWriter) Sum() string { return hex.EncodeToString(w.h.Sum(nil)) }

// Len returns the number of bytes written.
func (w *HashWriter) Len() int64 { return w.n }

// Divergence describes how got differs from the contents of the data file
// at path, for a failure message: where the first difference is, and
// whether got is a prefix (a lost tail), has a hole (the bytes after the
// difference are the file's from further on), or differs otherwise.
func Divergence(got []byte, path string) string {
	want, err := os.ReadFile(path)
	if err != nil {
		return "cannot read " + path + ": " + err.Error()
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	switch {
	case i == len(got) && i == len(want):
		return "identical"
	case i == len(got):
		return fmt.Sprintf("a prefix: the first %d bytes, the last %d missing", i, len(want)-i)
	}
	// A hole: the next 4 KiB of got appear later in want.
	probe := got[i:min(len(got), i+4096)]
	if j := bytes.Index(want[i:], probe); j > 0 {
		return fmt.Sprintf("a hole at offset %d: %d bytes missing, then the file goes on", i, j)
	}
	return fmt.Sprintf("first difference at offset %d (got %d bytes, want %d)", i, len(got), len(want))
}
