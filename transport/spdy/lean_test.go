package spdy

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/spdystream/spdy"
)

// encodeSynStreams frames header blocks (uncompressed, as spdystream
// writes them with rawHeaders) the way the wire sends them: one
// headerEncoder for the connection.
func encodeSynStreams(t testing.TB, hs ...http.Header) []byte {
	t.Helper()
	var raw bytes.Buffer
	fr, err := spdy.NewFramer(&raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	rawHeaders(&ok)(fr)
	if !ok {
		t.Fatal("rawHeaders did not apply")
	}
	var enc headerEncoder
	var out []byte
	for i, h := range hs {
		raw.Reset()
		if err := fr.WriteFrame(&spdy.SynStreamFrame{StreamId: spdy.StreamId(2*i + 1), Headers: h}); err != nil {
			t.Fatal(err)
		}
		f := raw.Bytes()
		frame := enc.appendBlock(append([]byte(nil), f[:frameHeaderLen+10]...), f[frameHeaderLen+10:])
		n := len(frame) - frameHeaderLen
		frame[5], frame[6], frame[7] = byte(n>>16), byte(n>>8), byte(n)
		out = append(out, frame...)
	}
	return out
}

// A real peer's framer (spdystream with its own decompression, as in
// client-go and the kubelet) reads our header frames: the zlib header with
// the dictionary's ID, stored blocks, a block over 64 KiB split in two, and
// later frames on the same stream.
func TestHeaderEncoderPeerDecodes(t *testing.T) {
	hs := []http.Header{
		{"Streamtype": {"error"}},
		{},
		{"Streamtype": {"data"}, "Port": {"8080"}, "Requestid": {"0"}},
		{"X-Big": {strings.Repeat("b", 100<<10)}, "X-Many": {"a", "b", "c"}},
		{"Streamtype": {"stdout"}},
	}
	wire := encodeSynStreams(t, hs...)
	peer, err := spdy.NewFramerWithOptions(io.Discard, bytes.NewReader(wire),
		spdy.WithMaxControlFramePayloadSize(1<<20), spdy.WithMaxHeaderFieldSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range hs {
		frame, err := peer.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got := frame.(*spdy.SynStreamFrame).Headers
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("frame %d: peer decoded %d headers, want %d (%v)", i, len(got), len(want), got["Streamtype"])
		}
	}
	if _, err := peer.ReadFrame(); err != io.EOF {
		t.Fatalf("after the frames: %v, want io.EOF", err)
	}
}

// FuzzHeaderEncoder: any two blocks come back byte for byte through a zlib
// reader with the SPDY dictionary, which consumes each frame's bytes
// exactly (what spdystream's decoder demands of a frame).
func FuzzHeaderEncoder(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x0astreamtype\x00\x00\x00\x05error"), []byte{0, 0, 0, 0})
	f.Add([]byte{}, bytes.Repeat([]byte{0xff}, maxStored+1))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var enc headerEncoder
		ea := enc.appendBlock(nil, a)
		eb := enc.appendBlock(nil, b)
		src := &blockFeed{b: ea}
		zr, err := zlib.NewReaderDict(src, headerDictionary)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range [][]byte{a, b} {
			if i == 1 {
				src.b = append(src.b, eb...)
			}
			got := make([]byte, len(want))
			if _, err := io.ReadFull(zr, got); err != nil {
				t.Fatalf("block %d: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("block %d: got %d bytes, differ from the %d written", i, len(got), len(want))
			}
			// The sync marker releases the block: the frame is consumed
			// (a real block is never empty: it starts with a count).
			if len(want) > 0 && len(src.b) != 0 {
				t.Fatalf("block %d: %d bytes left unread", i, len(src.b))
			}
		}
	})
}

// Both ends of a connection take over header compression (rawHeaders
// applies to the pinned spdystream): if it silently stopped applying, idle
// sessions would cost 650 KiB more each.
func TestConnCompressesHeadersItself(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	for _, c := range []*Conn{client, server} {
		if c.wire.enc == nil || !c.wire.in.inflate {
			t.Fatalf("header compression left to spdystream (enc %v, inflate %v)", c.wire.enc != nil, c.wire.in.inflate)
		}
	}
	openPair(t, client, server, "stdout", "port", "8080")
}

// An idle exec connection, both ends, holds well under what one
// compress/flate compressor costs (about 650 KiB; before this bound each
// end held one and a session cost 1.8 MB).
func TestIdleSessionHeap(t *testing.T) {
	const n, limit = 20, 300 << 10
	ts := newTestServer(t, serverOpts())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		client, server := dialPair(t, ts, nil)
		for _, typ := range []string{"error", "stdin", "stdout", "stderr"} {
			_, accepted := openPair(t, client, server, typ)
			if _, err := accepted.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes of heap per idle session, both ends", per)
	if per > limit {
		t.Errorf("idle session holds %d bytes of heap, both ends; want at most %d", per, limit)
	}
}

// Our DATA frames (Write, ReadFrom) and spdystream's frames (SYN_STREAM,
// SYN_REPLY, PING, FIN, RST_STREAM) share the socket: none may cut into
// another. Several streams write at once, both ways, while streams open and
// close and pings go; every byte must arrive intact.
func TestFramesDoNotInterleave(t *testing.T) {
	ts := newTestServer(t, serverOpts())
	client, server := dialPair(t, ts, nil)
	const streams, size = 4, 512 << 10
	var wg sync.WaitGroup
	errs := make(chan error, 4*streams+2)
	for i := range streams {
		opened, accepted := openPair(t, client, server, fmt.Sprintf("s%d", i))
		for dir, pair := range [][2]*Stream{{opened, accepted}, {accepted, opened}} {
			data := randomBytes(t, size)
			want := sha256.Sum256(data)
			wg.Add(2)
			go func() { // the writer: Write in odd sizes, or ReadFrom a pipe
				defer wg.Done()
				w := pair[0]
				var err error
				if dir == 0 {
					for p := data; len(p) > 0 && err == nil; {
						// Mostly small frames (copied into the wire's
						// buffer, which spdystream's frames use too),
						// some large ones (written in place).
						k := min(len(p), 1+len(p)%1500)
						if len(p)%7 == 0 {
							k = min(len(p), 40000+len(p)%30000)
						}
						_, err = w.Write(p[:k])
						p = p[k:]
					}
				} else {
					err = copyThroughPipe(w, data)
				}
				if err == nil {
					err = w.CloseWrite()
				}
				if err != nil {
					errs <- fmt.Errorf("stream %d dir %d write: %w", i, dir, err)
				}
			}()
			go func() {
				defer wg.Done()
				n, sum, err := readAllSum(pair[1])
				if err != nil || n != size || sum != want {
					errs <- fmt.Errorf("stream %d dir %d: read %d bytes (err %v), checksum match %v", i, dir, n, err, sum == want)
				}
			}()
		}
	}
	wg.Add(1)
	go func() { // control frames meanwhile
		defer wg.Done()
		for j := range 200 {
			s, err := client.Open(context.Background(), http.Header{"Streamtype": {fmt.Sprintf("extra%d", j)}})
			if err != nil {
				errs <- fmt.Errorf("open extra %d: %w", j, err)
				return
			}
			a, err := server.Accept(context.Background())
			if err != nil {
				errs <- fmt.Errorf("accept extra %d: %w", j, err)
				return
			}
			if _, err := client.sc.Ping(); err != nil {
				errs <- fmt.Errorf("ping: %w", err)
				return
			}
			_ = s.Reset()
			_ = a.Reset()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// copyThroughPipe writes data into a pipe whose read end w copies with
// ReadFrom (io.Copy), as the node copies a process's output.
func copyThroughPipe(w *Stream, data []byte) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	go func() { _, _ = pw.Write(data); pw.Close() }()
	_, err = io.Copy(w, pr)
	return err
}

// recConn records what is written to it.
type recConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *recConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// A DATA frame of ours waits while spdystream is between two Writes of one
// of its frames, and goes out after that frame, whole.
func TestDataFrameWaitsForSpdystreamFrame(t *testing.T) {
	rec := &recConn{}
	w := newWire(rec, bufio.NewReader(strings.NewReader("")), time.Second, nil)
	ping := []byte{0x80, 3, 0, typePing, 0, 0, 0, 4, 0, 0, 0, 1}
	if _, err := w.Write(ping[:4]); err != nil { // spdystream writes a frame piecewise
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.writeData(1, 0, []byte("hello")) }()
	select {
	case err := <-done:
		t.Fatalf("DATA frame written in the middle of a PING (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	for _, piece := range [][]byte{ping[4:8], ping[8:]} {
		if _, err := w.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(ping), 0, 0, 0, 1, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o')
	if got := rec.bytes(); !bytes.Equal(got, want) {
		t.Fatalf("wire got % x, want % x", got, want)
	}
}

// A frame spdystream gives up on a write error does not keep the wire
// locked: later writes fail at once instead of waiting for good.
func TestFailedFrameReleasesWire(t *testing.T) {
	rec := &recConn{}
	w := newWire(rec, bufio.NewReader(strings.NewReader("")), time.Second, nil)
	ping := []byte{0x80, 3, 0, typePing, 0, 0, 0, 4, 0, 0, 0, 1}
	if _, err := w.Write(ping[:4]); err != nil {
		t.Fatal(err)
	}
	w.shut.Store(true) // as startLinger does
	if _, err := w.Write(ping[4:]); err != errWriteShut {
		t.Fatalf("Write after shutdown = %v, want errWriteShut", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.writeData(1, 0, []byte("x")) }()
	select {
	case err := <-done:
		if err != errWriteShut {
			t.Fatalf("writeData = %v, want errWriteShut", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writeData still blocked 5 s after the failed frame")
	}
}
