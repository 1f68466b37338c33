// Package s3test runs an S3-compatible server (gofakes3, in memory) on
// loopback for tests of the recording bucket: one that can be taken down
// and brought back on the same address, and that refuses unknown access
// keys as S3 does.
package s3test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is gofakes3 (an S3-compatible server) on a fixed loopback
// address that a test can take down and bring back. gofakes3 does not
// authenticate, so a small front refuses every access key but accessKey
// the way S3 does (403 InvalidAccessKeyId); requests without a signature
// pass, for the test's own reads.
type Server struct {
	t    testing.TB
	Addr string // host:port
	// ObjectReads counts GET and HEAD requests for objects (not listings).
	ObjectReads atomic.Int64
	handler     http.Handler
	mu          sync.Mutex
	srv         *http.Server
	served      chan struct{}
}

// The credentials the server takes and the bucket it holds.
const (
	AccessKey = "AKIDPORTHOLE"
	SecretKey = "porthole-secret"
	Bucket    = "recordings"
)

// Start serves a fresh in-memory S3 with Bucket on 127.0.0.1; it is taken
// down when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(Bucket); err != nil {
		t.Fatal(err)
	}
	faker := gofakes3.New(backend)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Server{t: t, Addr: ln.Addr().String()}
	inner := keyCheck(faker.Server())
	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1 {
			f.ObjectReads.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	f.serve(ln)
	t.Cleanup(f.Down)
	return f
}

// keyCheck refuses signed requests made with another access key.
func keyCheck(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if _, cred, ok := strings.Cut(auth, "Credential="); ok && !strings.HasPrefix(cred, AccessKey+"/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>`+
				`<Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (f *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: f.handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	f.mu.Lock()
	f.srv, f.served = srv, served
	f.mu.Unlock()
}

// Down stops the server: connections are closed and the port refuses.
func (f *Server) Down() {
	f.mu.Lock()
	srv, served := f.srv, f.served
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.Close()
		<-served
	}
}

// Up serves again on the same address.
func (f *Server) Up() {
	f.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago
		if ln, err = net.Listen("tcp", f.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	f.serve(ln)
}

// Get reads key from the bucket without our client.
func (f *Server) Get(key string) ([]byte, http.Header, error) {
	resp, err := http.Get("http://" + f.Addr + "/" + Bucket + "/" + key)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = errors.New(resp.Status)
	}
	return b, resp.Header, err
}
