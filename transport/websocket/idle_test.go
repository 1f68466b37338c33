package websocket

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/porthole/porthole/protocol/channel"
)

// pipeListener serves HTTP over net.Pipe, so a whole client/server pair
// runs inside a synctest bubble with fake time.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// servePipe serves h over a pipeListener and returns the client that
// reaches it (any URL host) and the function that stops both, to defer
// inside the synctest bubble.
func servePipe(h http.HandlerFunc) (*http.Client, func()) {
	ln := newPipeListener()
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	tr := &http.Transport{DialContext: ln.dial}
	return &http.Client{Transport: tr}, func() {
		tr.CloseIdleConnections()
		srv.Close()
	}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	s, c := net.Pipe()
	select {
	case l.conns <- s:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestIdleTimeout: data either way resets the idle timer, pings do not;
// after IdleTimeout without data the server closes the connection and Err
// is ErrIdleTimeout.
func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepted := make(chan *Conn, 1)
		hc, stop := servePipe(func(w http.ResponseWriter, r *http.Request) {
			c, err := Accept(w, r, &AcceptOptions{IdleTimeout: time.Minute, LingerTimeout: time.Second})
			if err != nil {
				t.Errorf("Accept: %v", err)
				return
			}
			accepted <- c
			io.Copy(io.Discard, c.Channel(channel.Stdin))
		})
		defer stop()

		c, _, err := Dial(context.Background(), "ws://pipe/", &DialOptions{
			HTTPClient:   hc,
			PingInterval: 10 * time.Second, // answered, but not data
		})
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		// Net.Pipe has no socket buffer: keep the client reading so the
		// server's writes (data and pongs) complete.
		var reader sync.WaitGroup
		reader.Add(1)
		go func() { defer reader.Done(); io.Copy(io.Discard, c.Channel(channel.Stdout)) }()
		alive := func(when string) {
			t.Helper()
			synctest.Wait()
			select {
			case <-s.Done():
				t.Fatalf("%s: connection ended: %v", when, s.Err())
			default:
			}
		}
		time.Sleep(40 * time.Second)
		c.Channel(channel.Stdin).Write([]byte("x")) // inbound data at 40s
		alive("40s")
		time.Sleep(50 * time.Second)
		s.Channel(channel.Stdout).Write([]byte("y")) // outbound data at 90s
		alive("90s, 50s after inbound data")
		time.Sleep(59 * time.Second)
		alive("149s, 59s after outbound data")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		select {
		case <-s.Done():
		default:
			t.Fatal("151s, 61s without data: connection still open")
		}
		wantConnError(t, s.Err(), ErrIdleTimeout)
		c.Close()
		s.Close()
		reader.Wait()
	})
}

// TestKeepAlivePings: an accepted connection with KeepAlive pings a quiet
// client (which answers with pongs) every interval, and the idle timeout
// still ends it: pings are not data.
func TestKeepAlivePings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepted := make(chan *Conn, 1)
		var count int
		var mu sync.Mutex
		hc, stop := servePipe(func(w http.ResponseWriter, r *http.Request) {
			c, err := Accept(w, r, &AcceptOptions{IdleTimeout: time.Minute, LingerTimeout: time.Second,
				KeepAlive: 10 * time.Second, OnKeepAlive: func() { mu.Lock(); count++; mu.Unlock() }})
			if err != nil {
				t.Errorf("Accept: %v", err)
				return
			}
			accepted <- c
			io.Copy(io.Discard, c.Channel(channel.Stdin))
		})
		defer stop()
		c, _, err := Dial(context.Background(), "ws://pipe/", &DialOptions{HTTPClient: hc, PingInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		var reader sync.WaitGroup
		reader.Add(1)
		go func() { defer reader.Done(); io.Copy(io.Discard, c.Channel(channel.Stdout)) }()
		time.Sleep(55 * time.Second)
		synctest.Wait()
		mu.Lock()
		n := count
		mu.Unlock()
		if n != 5 {
			t.Errorf("%d keep-alive pings in 55 s at 10 s, want 5", n)
		}
		select {
		case <-s.Done():
			t.Fatalf("55s without data: connection ended: %v", s.Err())
		default:
		}
		time.Sleep(6 * time.Second)
		synctest.Wait()
		select {
		case <-s.Done():
		default:
			t.Fatal("61s without data, pings every 10 s: connection still open")
		}
		wantConnError(t, s.Err(), ErrIdleTimeout)
		c.Close()
		s.Close()
		reader.Wait()
	})
}

// TestKeepAliveSkipsBusy: no keep-alive ping while the server sends data
// (once a second here): its messages keep the proxies' timers alive, and a
// ping into a busy connection only asks a blocked peer for an answer (see
// idle.KeepAlive). Once the server is quiet for an interval, pings resume.
func TestKeepAliveSkipsBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var count atomic.Int32
		accepted := make(chan *Conn, 1)
		hc, stop := servePipe(func(w http.ResponseWriter, r *http.Request) {
			c, err := Accept(w, r, &AcceptOptions{LingerTimeout: time.Second,
				KeepAlive: 10 * time.Second, OnKeepAlive: func() { count.Add(1) }})
			if err != nil {
				t.Errorf("Accept: %v", err)
				return
			}
			accepted <- c
			io.Copy(io.Discard, c.Channel(channel.Stdin))
		})
		defer stop()
		c, _, err := Dial(context.Background(), "ws://pipe/", &DialOptions{HTTPClient: hc, PingInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		var reader sync.WaitGroup
		reader.Add(1)
		go func() { defer reader.Done(); io.Copy(io.Discard, c.Channel(channel.Stdout)) }()
		time.Sleep(time.Second / 2) // off the ticks
		for range 60 {
			if _, err := s.Channel(channel.Stdout).Write([]byte("tick\n")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if n := count.Load(); n != 0 {
			t.Errorf("%d keep-alive pings while the server wrote every second, want 0", n)
		}
		time.Sleep(35 * time.Second) // the ticks at 70, 80 and 90 s find nothing written
		synctest.Wait()
		if n := count.Load(); n != 3 {
			t.Errorf("%d keep-alive pings in 35 quiet seconds at 10 s, want 3", n)
		}
		c.Close()
		s.Close()
		reader.Wait()
	})
}
