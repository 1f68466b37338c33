package pump

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collector gathers what Copy sends, checking the headroom byte.
type collector struct {
	t    *testing.T
	data bytes.Buffer
	msgs int
}

func (c *collector) send(msg []byte) error {
	if msg[0] != 0xAB {
		c.t.Errorf("headroom byte: got %#x, want 0xab", msg[0])
	}
	c.msgs++
	c.data.Write(msg[1:])
	return nil
}

func TestCopyIdleHoldsNoBuffer(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	pool := NewPool(1 << 10)
	parked := make(chan int64)
	w := NewWaiter(pr)
	w.onWait = func() { parked <- pool.InUse() }
	got := make(chan []byte, 4)
	send := func(msg []byte) error {
		msg[0] = 0 // the buffer is reused; the copy below is what counts
		got <- bytes.Clone(msg[1:])
		return nil
	}
	done := make(chan error, 1)
	var total int64
	go func() {
		var err error
		total, err = copyWith(w, pr, pool, 1, 512, send)
		done <- err
	}()

	if n := <-parked; n != 0 {
		t.Fatalf("parked before any data with %d buffers in use, want 0", n)
	}
	if _, err := pw.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if msg := <-got; string(msg) != "hello" {
		t.Fatalf("got %q, want hello", msg)
	}
	if n := <-parked; n != 0 {
		t.Fatalf("parked after data with %d buffers in use, want 0", n)
	}
	pw.Close()
	if err := <-done; err != nil || total != 5 {
		t.Fatalf("Copy: got %d, %v, want 5, nil", total, err)
	}
	if pool.InUse() != 0 {
		t.Fatalf("after Copy: %d buffers in use", pool.InUse())
	}
}

func TestCopyLargeThroughPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	want := make([]byte, 3<<20+17)
	rand.Read(want)
	go func() {
		pw.Write(want)
		pw.Close()
	}()
	pool := NewPool(64 << 10)
	c := &collector{t: t}
	n, err := Copy(pr, pool, 1, 1<<30, func(msg []byte) error {
		if len(msg) > 64<<10 {
			t.Errorf("message of %d bytes exceeds the buffer", len(msg))
		}
		msg[0] = 0xAB
		return c.send(msg)
	})
	if err != nil || n != int64(len(want)) {
		t.Fatalf("Copy: got %d, %v, want %d, nil", n, err, len(want))
	}
	if sha256.Sum256(c.data.Bytes()) != sha256.Sum256(want) {
		t.Fatal("data differs")
	}
}

func TestCopyPlainReaderAndMax(t *testing.T) {
	pool := NewPool(16)
	c := &collector{t: t}
	n, err := Copy(bytes.NewReader([]byte("0123456789")), pool, 1, 4, func(msg []byte) error {
		if len(msg) > 5 {
			t.Errorf("message %q longer than max+headroom", msg)
		}
		msg[0] = 0xAB
		return c.send(msg)
	})
	if err != nil || n != 10 || c.data.String() != "0123456789" || c.msgs != 3 {
		t.Fatalf("got n=%d err=%v data=%q msgs=%d, want 10 nil 0123456789 3", n, err, c.data.String(), c.msgs)
	}
}

// TestCopyBlockingFile: Fd switches a descriptor to blocking mode (creack/pty
// does so on every pty master), but it stays in the runtime poller, so the
// Waiter still parks without a buffer.
func TestCopyBlockingFile(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Fd()
	defer pr.Close()
	pool := NewPool(64)
	parked := make(chan int64, 1)
	w := NewWaiter(pr)
	w.onWait = func() { parked <- pool.InUse() }
	c := &collector{t: t}
	done := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = copyWith(w, pr, pool, 1, 64, func(msg []byte) error { msg[0] = 0xAB; return c.send(msg) })
		done <- err
	}()
	if inUse := <-parked; inUse != 0 {
		t.Fatalf("parked with %d buffers in use, want 0", inUse)
	}
	pw.Write([]byte("abc"))
	pw.Close()
	if err := <-done; err != nil || n != 3 || c.data.String() != "abc" {
		t.Fatalf("got %d %v %q, want 3 nil abc", n, err, c.data.String())
	}
}

func TestCopyErrors(t *testing.T) {
	boom := errors.New("boom")
	pool := NewPool(8)
	_, err := Copy(bytes.NewReader([]byte("x")), pool, 1, 8, func([]byte) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("send error: got %v, want boom", err)
	}
	_, err = Copy(io.MultiReader(bytes.NewReader([]byte("x")), errReader{boom}), pool, 1, 8, func([]byte) error { return nil })
	if !errors.Is(err, boom) {
		t.Fatalf("read error: got %v, want boom", err)
	}
	if pool.InUse() != 0 {
		t.Fatalf("%d buffers leaked", pool.InUse())
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
