package spdy

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
)

// Header block limits. spdystream decodes a header block with no bound on
// its decompressed size and splits every value at NUL into a slice of
// strings, so 8 KB of compressed NULs cost it close to a gigabyte. Real
// peers send a handful of short headers per stream (client-go: streamtype,
// port, requestid; the kubelet: none), so these are generous.
const (
	maxHeaderFrame  = 64 << 10 // payload of a SYN_STREAM, SYN_REPLY or HEADERS frame
	maxHeaderBlock  = 64 << 10 // decompressed header block
	maxHeaderField  = 16 << 10 // one name or value
	maxHeaderValues = 128      // headers per block, NUL-separated values each counted
	// maxHeaderCarry bounds compressed bytes a block leaves for the next one
	// (a sync flush leaves about 5); spdystream's own decoder carries at
	// most its 4 KiB read buffer.
	maxHeaderCarry = 4 << 10
	// maxControlFrame bounds the payload of the other control frames
	// (PING, GOAWAY, RST_STREAM, SETTINGS... are a few bytes each).
	maxControlFrame = 64 << 10
	// maxInflatedFrame is the largest header frame spdystream gets from
	// the gate in inflate mode: SYN_STREAM's fixed fields and a
	// decompressed block.
	maxInflatedFrame = 10 + maxHeaderBlock
)

// ErrHeaderLimit ends a connection whose peer sent a header block over one
// of the limits; the wrapping error names the limit.
var ErrHeaderLimit = errors.New("spdy: header limit exceeded")

// headerDecoder checks the header blocks of one connection's inbound
// direction before spdystream decodes them. The blocks share one zlib
// stream, so it decompresses each block in turn, reading exactly the bytes
// spdystream will read, and keeps no header: memory stays at zlib's window
// plus a small buffer, whatever the peer sends.
type headerDecoder struct {
	in blockFeed
	// out, when not nil, collects the decompressed block (frameGate's
	// inflate mode); the budget in left bounds it.
	out    []byte
	zr     io.ReadCloser // created on the first block, as spdystream does
	left   int           // decompressed bytes the current block may still use
	values int           // values seen in the current block
	buf    [512]byte
	// onHeader, when set, receives each header whose name and value are
	// both short (maxWatched bytes), as decoded.
	onHeader func(name, value []byte)
}

// maxWatched bounds the names and values handed to onHeader.
const maxWatched = 64

// check decodes one compressed header block. After an error the zlib stream
// is out of step with the peer's: the connection must end.
func (d *headerDecoder) check(block []byte) error {
	d.in.next(block)
	if d.zr == nil {
		zr, err := zlib.NewReaderDict(&d.in, headerDictionary)
		if err != nil {
			return fmt.Errorf("%w: header block: %w", ErrProtocol, err)
		}
		d.zr = zr
	}
	d.left, d.values = maxHeaderBlock, 0
	if err := d.block(); err != nil {
		return err
	}
	return d.in.keep()
}

// block walks the layout spdystream parses: a count, then that many
// length-prefixed names and values.
func (d *headerDecoder) block() error {
	n, err := d.u32()
	if err != nil {
		return err
	}
	if n > maxHeaderValues {
		return fmt.Errorf("%w: %d headers, limit %d headers", ErrHeaderLimit, n, maxHeaderValues)
	}
	for range n {
		name, err := d.field(false)
		if err != nil {
			return err
		}
		value, err := d.field(true)
		if err != nil {
			return err
		}
		if d.onHeader != nil && name != nil && value != nil {
			d.onHeader(name, value)
		}
	}
	return nil
}

// field reads one length-prefixed name or value; in a value each NUL
// starts one more value. With onHeader set it returns a copy of a field of
// at most maxWatched bytes.
func (d *headerDecoder) field(value bool) ([]byte, error) {
	size, err := d.u32()
	if err != nil {
		return nil, err
	}
	if size > maxHeaderField {
		return nil, fmt.Errorf("%w: name or value of %d bytes, field limit %d bytes", ErrHeaderLimit, size, maxHeaderField)
	}
	if value {
		d.values++
	}
	var kept []byte
	if d.onHeader != nil && size <= maxWatched {
		kept = make([]byte, 0, size)
	}
	for size > 0 {
		p := d.buf[:min(int(size), len(d.buf))]
		if err := d.read(p); err != nil {
			return nil, err
		}
		size -= uint32(len(p))
		if kept != nil {
			kept = append(kept, p...)
		}
		if value {
			d.values += bytes.Count(p, []byte{0})
		}
		if d.values > maxHeaderValues {
			return nil, fmt.Errorf("%w: over %d header values (each NUL starts one)", ErrHeaderLimit, maxHeaderValues)
		}
	}
	return kept, nil
}

func (d *headerDecoder) u32() (uint32, error) {
	p := d.buf[:4]
	if err := d.read(p); err != nil {
		return 0, err
	}
	return be32(p), nil
}

// read decompresses exactly len(p) bytes, charged to the block's budget
// before zlib produces them.
func (d *headerDecoder) read(p []byte) error {
	if len(p) > d.left {
		return fmt.Errorf("%w: header block over the decompressed limit of %d bytes", ErrHeaderLimit, maxHeaderBlock)
	}
	d.left -= len(p)
	if _, err := io.ReadFull(d.zr, p); err != nil {
		return fmt.Errorf("%w: decompress header block: %w", ErrProtocol, err)
	}
	if d.out != nil {
		d.out = append(d.out, p...)
	}
	return nil
}

// blockFeed hands zlib the compressed bytes of one block, after those the
// previous block left unread (the tail of a sync flush). It is an
// io.ByteReader, so zlib reads no further than it needs, like spdystream's
// decoder, which reads through a buffer capped at the frame.
type blockFeed struct{ b []byte }

// next starts a block after what zlib left of the last one.
func (f *blockFeed) next(block []byte) {
	if len(f.b) > 0 {
		block = append(append(make([]byte, 0, len(f.b)+len(block)), f.b...), block...)
	}
	f.b = block
}

// keep detaches what zlib left of the block from the frame's buffer.
func (f *blockFeed) keep() error {
	if len(f.b) > maxHeaderCarry {
		return fmt.Errorf("%w: %d compressed bytes left after a header block", ErrProtocol, len(f.b))
	}
	f.b = bytes.Clone(f.b)
	return nil
}

func (f *blockFeed) ReadByte() (byte, error) {
	if len(f.b) == 0 {
		return 0, io.EOF
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c, nil
}

func (f *blockFeed) Read(p []byte) (int, error) {
	if len(f.b) == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// frameGate sits between the socket and spdystream's framer. It passes
// frames through unchanged, except that it reads each SYN_STREAM, SYN_REPLY
// and HEADERS frame whole, bounded, and checks its header block before
// spdystream sees any of it. In inflate mode (spdystream's framer set to
// read header blocks uncompressed, see rawHeaders) it hands spdystream the
// decompressed block instead, with the frame's length adjusted: one zlib
// reader per connection instead of two.
type frameGate struct {
	r       io.Reader
	hdr     [frameHeaderLen]byte
	pending []byte // checked bytes not yet handed out
	pass    int64  // payload bytes of the current frame to pass unchecked
	dec     headerDecoder
	inflate bool
	err     error // sticky: after a refused or torn frame the stream is lost
	// onPing, when set, sees each PING's ID and reports whether it was
	// answered and is to be dropped (see answers).
	onPing func(id uint32) bool
	ping   [frameHeaderLen + 4]byte
}

func (g *frameGate) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if len(g.pending) == 0 && g.pass == 0 {
		if g.err = g.nextFrame(); g.err != nil {
			return 0, g.err
		}
	}
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		return n, nil
	}
	if int64(len(p)) > g.pass {
		p = p[:g.pass]
	}
	n, err := g.r.Read(p)
	g.pass -= int64(n)
	return n, err
}

// nextFrame reads the next frame to hand spdystream: its header and, for
// a header-bearing frame, the whole frame, checked. PINGs onPing answered
// are skipped.
func (g *frameGate) nextFrame() error {
	for {
		skip, err := g.readFrame()
		if err != nil || !skip {
			return err
		}
	}
}

// readFrame is nextFrame for one frame; skip reports a PING dropped.
func (g *frameGate) readFrame() (skip bool, err error) {
	if _, err := io.ReadFull(g.r, g.hdr[:]); err != nil {
		return false, err
	}
	h := g.hdr[:]
	length := int(h[5])<<16 | int(h[6])<<8 | int(h[7])
	prefix := headerBlockOffset(h)
	if prefix == 0 {
		if h[0]&0x80 != 0 && length > maxControlFrame {
			return false, fmt.Errorf("%w: control frame of %d bytes, limit %d bytes", ErrProtocol, length, maxControlFrame)
		}
		if g.onPing != nil && h[0]&0x80 != 0 && uint16(h[2])<<8|uint16(h[3]) == typePing && length == 4 {
			copy(g.ping[:], h)
			if _, err := io.ReadFull(g.r, g.ping[frameHeaderLen:]); err != nil {
				return false, err
			}
			if g.onPing(be32(g.ping[frameHeaderLen:])) {
				return true, nil
			}
			g.pending, g.pass = g.ping[:], 0
			return false, nil
		}
		g.pending, g.pass = h, int64(length)
		return false, nil
	}
	return false, g.headerFrame(h, length, prefix)
}

// headerFrame reads the rest of a header-bearing frame whose 8-byte header
// is h and checks its block.
func (g *frameGate) headerFrame(h []byte, length, prefix int) error {
	if length > maxHeaderFrame {
		return fmt.Errorf("%w: header frame of %d bytes, frame limit %d bytes", ErrHeaderLimit, length, maxHeaderFrame)
	}
	if length < prefix {
		return fmt.Errorf("%w: header frame of %d bytes, shorter than its fixed fields", ErrProtocol, length)
	}
	buf := make([]byte, frameHeaderLen+length)
	copy(buf, h)
	if _, err := io.ReadFull(g.r, buf[frameHeaderLen:]); err != nil {
		return err
	}
	if !g.inflate {
		if err := g.dec.check(buf[frameHeaderLen+prefix:]); err != nil {
			return err
		}
		g.pending = buf
		return nil
	}
	// The block decompresses to at most maxHeaderBlock bytes: the new
	// length fits the 24-bit field, and spdystream's limit is set to match
	// (maxInflatedFrame).
	g.dec.out = append(make([]byte, 0, frameHeaderLen+prefix+min(4*length, maxHeaderBlock)), buf[:frameHeaderLen+prefix]...)
	err := g.dec.check(buf[frameHeaderLen+prefix:])
	out := g.dec.out
	g.dec.out = nil
	if err != nil {
		return err
	}
	n := len(out) - frameHeaderLen
	out[5], out[6], out[7] = byte(n>>16), byte(n>>8), byte(n)
	g.pending = out
	return nil
}

// headerBlockOffset is where the header block starts in the payload of a
// frame with the 8-byte header h, or 0 when the frame carries none.
func headerBlockOffset(h []byte) int {
	if h[0]&0x80 == 0 {
		return 0
	}
	switch uint16(h[2])<<8 | uint16(h[3]) {
	case typeSynStream:
		return 10 // stream ID, associated stream ID, priority, slot
	case typeSynReply, typeHeaders:
		return 4 // stream ID
	}
	return 0
}

// headerEncoder writes the header blocks of one connection's outbound
// direction as one zlib stream with the SPDY/3 dictionary, made of stored
// (uncompressed) deflate blocks, which SPDY/3.1 allows: any conforming zlib
// stream using the dictionary. It keeps no state but whether the zlib header
// went out, where a deflate compressor costs about 650 KiB per connection
// (compress/flate's hash tables, whatever the level). Real blocks are a few
// dozen bytes (client-go: streamtype, port, requestid; the kubelet's
// replies: none), so compression would save little.
type headerEncoder struct{ started bool }

// maxStored is the largest stored deflate block.
const maxStored = 0xffff

// zlibHeader opens the stream: deflate with a 32 KiB window, FDICT set
// (0x78 0x20 is divisible by 31 as the check requires), then the adler32 of
// the dictionary, as the peer's zlib reader demands.
var zlibHeader = func() [6]byte {
	sum := adler32.Checksum(headerDictionary)
	return [6]byte{0x78, 0x20, byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}
}()

// appendBlock appends block to dst as the next part of the zlib stream:
// non-final stored blocks, then an empty one, the sync flush marker
// (00 00 FF FF). Readers release a stored block's bytes only when the next
// block begins (Go's compress/flate does), so the marker makes each frame's
// block complete, and a reader consumes the frame's last byte with it.
func (e *headerEncoder) appendBlock(dst, block []byte) []byte {
	if !e.started {
		e.started = true
		dst = append(dst, zlibHeader[:]...)
	}
	for len(block) > 0 {
		n := min(len(block), maxStored)
		dst = appendStored(dst, block[:n])
		block = block[n:]
	}
	return appendStored(dst, nil)
}

// appendStored appends a non-final stored block: BFINAL 0 and BTYPE 00 in
// a byte of its own (the stream is byte-aligned after every stored block),
// LEN, NLEN (little-endian), the bytes.
func appendStored(dst, b []byte) []byte {
	n := len(b)
	dst = append(dst, 0, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	return append(dst, b...)
}
