package bucket_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/audit/bucket"
	"github.com/porthole/porthole/internal/s3test"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func config(s *s3test.Server) *bucket.Config {
	return &bucket.Config{Endpoint: "http://" + s.Addr, Bucket: s3test.Bucket, Prefix: "recordings/", PathStyle: true,
		Region:      "us-east-1",
		Credentials: bucket.Credentials{AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}}
}

func openStore(t *testing.T, s *s3test.Server) *bucket.Store {
	t.Helper()
	st, err := bucket.Open(context.Background(), config(s))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// spool records sessions into a directory and remembers the sha256 of
// each file as the recorder left it, before the uploader sees it.
type spool struct {
	dir  string
	rec  *audit.Recorder
	mu   sync.Mutex
	sums map[string][32]byte
}

func newSpool(t *testing.T, dir string, closed func(string)) *spool {
	s := &spool{dir: dir, sums: map[string][32]byte{}}
	s.rec = &audit.Recorder{Dir: dir, Closed: func(p string) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("closed recording: %v", err)
		}
		s.mu.Lock()
		s.sums[filepath.Base(p)] = sha256.Sum256(b)
		s.mu.Unlock()
		closed(p)
	}}
	return s
}

func (s *spool) record(t *testing.T, id, owner, out string) {
	t.Helper()
	r, err := s.rec.StartOwned(id, "ns/pod exec", owner, 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	r.Write([]byte(out))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func (s *spool) sum(name string) [32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sums[name]
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkUploaded: the bucket holds name with exactly the bytes the recorder
// wrote and the owner in its metadata.
func checkUploaded(t *testing.T, s3 *s3test.Server, sp *spool, name, owner string) {
	t.Helper()
	b, h, err := s3.Get("recordings/" + name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	if got, want := sha256.Sum256(b), sp.sum(name); got != want {
		t.Errorf("%s in the bucket: sha256 %x, the recorder wrote %x", name, got, want)
	}
	if got := h.Get("X-Amz-Meta-Porthole-User"); got != owner {
		t.Errorf("%s owner metadata %q, want %q", name, got, owner)
	}
}

func closeUploader(t *testing.T, u *bucket.Uploader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUploadExactBytesAndEmptySpool(t *testing.T) {
	s3 := s3test.Start(t)
	dir := t.TempDir()
	var u *bucket.Uploader
	sp := newSpool(t, dir, func(p string) { u.Closed(p) })
	u, err := bucket.NewUploader(openStore(t, s3), dir, &bucket.UploaderOptions{MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sp.record(t, "s1", "alice", "héllo\r\n\x1b[1mwörld\x1b[0m 😀")
	sp.record(t, "s2", "bob", strings.Repeat("line of output\r\n", 20000)) // 300 kB
	waitFor(t, "uploads", func() bool { return u.Pending() == 0 })
	checkUploaded(t, s3, sp, "s1.cast", "alice")
	checkUploaded(t, s3, sp, "s2.cast", "bob")
	if left := spoolFiles(t, dir); len(left) != 0 {
		t.Errorf("spool after upload: %v", left)
	}
	closeUploader(t, u)
}

func TestUploadRetriedWhileServerDown(t *testing.T) {
	s3 := s3test.Start(t)
	dir := t.TempDir()
	st := openStore(t, s3)
	var failed atomic.Int32
	var u *bucket.Uploader
	sp := newSpool(t, dir, func(p string) { u.Closed(p) })
	u, err := bucket.NewUploader(st, dir, &bucket.UploaderOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Failed: func() { failed.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	s3.Down()
	sp.record(t, "s1", "alice", "while the bucket was away")
	waitFor(t, "failed attempts", func() bool { return failed.Load() >= 3 })
	if left := spoolFiles(t, dir); len(left) != 1 {
		t.Fatalf("spool while the bucket is down: %v", left)
	}
	s3.Up()
	waitFor(t, "the upload after the bucket came back", func() bool { return u.Pending() == 0 })
	checkUploaded(t, s3, sp, "s1.cast", "alice")
	if left := spoolFiles(t, dir); len(left) != 0 {
		t.Errorf("spool after upload: %v", left)
	}
	closeUploader(t, u)
}

// TestShutdownLeavesPendingForNextStart: what cannot be uploaded within
// the shutdown grace stays in the spool, and the next start uploads it.
func TestShutdownLeavesPendingForNextStart(t *testing.T) {
	s3 := s3test.Start(t)
	dir := t.TempDir()
	st := openStore(t, s3)
	var u *bucket.Uploader
	sp := newSpool(t, dir, func(p string) { u.Closed(p) })
	u, err := bucket.NewUploader(st, dir, &bucket.UploaderOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s3.Down()
	sp.record(t, "s1", "alice", "recorded just before SIGTERM")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = u.Close(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "1 recordings not uploaded") {
		t.Fatalf("close with the bucket down: %v", err)
	}
	left := spoolFiles(t, dir)
	if len(left) != 1 || filepath.Base(left[0]) != "s1.cast" {
		t.Fatalf("spool after shutdown: %v", left)
	}
	if sha256.Sum256(must(os.ReadFile(left[0]))) != sp.sum("s1.cast") {
		t.Fatal("the spooled recording changed")
	}
	// The next start, with the bucket back.
	s3.Up()
	u2, err := bucket.NewUploader(openStore(t, s3), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leftover's upload", func() bool { return u2.Pending() == 0 })
	checkUploaded(t, s3, sp, "s1.cast", "alice")
	if left := spoolFiles(t, dir); len(left) != 0 {
		t.Errorf("spool after the next start: %v", left)
	}
	closeUploader(t, u2)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestOpenFailsFast: a gateway that could not upload says why at start.
func TestOpenFailsFast(t *testing.T) {
	s3 := s3test.Start(t)
	tests := []struct {
		name string
		edit func(*bucket.Config)
		want string
	}{
		{"wrong access key", func(c *bucket.Config) { c.Credentials.AccessKeyID = "AKIDOTHER" }, "credentials refused"},
		{"no credentials", func(c *bucket.Config) { c.Credentials = bucket.Credentials{} }, "no credentials"},
		{"missing bucket", func(c *bucket.Config) { c.Bucket = "nope" }, "recording bucket nope at " + s3.Addr + " does not exist"},
		{"no bucket", func(c *bucket.Config) { c.Bucket = "" }, "no bucket name"},
		{"http beyond loopback", func(c *bucket.Config) { c.Endpoint = "http://s3.example.com" }, "plain http beyond loopback"},
		{"endpoint with a path", func(c *bucket.Config) { c.Endpoint = "https://s3.example.com/bucket" }, "want scheme://host[:port]"},
		{"endpoint scheme", func(c *bucket.Config) { c.Endpoint = "ftp://s3.example.com" }, "scheme must be https or http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(s3)
			tc.edit(cfg)
			_, err := bucket.Open(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open: %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), s3test.SecretKey) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestStoreListAndOpen(t *testing.T) {
	s3 := s3test.Start(t)
	st := openStore(t, s3)
	ctx := context.Background()
	for _, name := range []string{"a.cast", "b.cast"} {
		body := "content of " + name
		if err := st.Put(ctx, name, "alice", strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Name != "a.cast" || objs[1].Name != "b.cast" || objs[0].Size != int64(len("content of a.cast")) {
		t.Fatalf("list: %+v", objs)
	}
	r, size, err := st.Open(ctx, "b.cast")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seek(11, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "b.cast" || size != int64(len("content of b.cast")) {
		t.Fatalf("open b.cast from 11: %q %d %v", b, size, err)
	}
	if _, _, err := st.Open(ctx, "c.cast"); !errors.Is(err, bucket.ErrNotFound) {
		t.Fatalf("open missing: %v", err)
	}
}

// TestOpenCachesHeaders: once a recording's first line was read, reading
// it again (the web terminal's listing) asks the bucket nothing, and the
// rest still reads, from any offset, as the bucket holds it.
func TestOpenCachesHeaders(t *testing.T) {
	s3 := s3test.Start(t)
	st := openStore(t, s3)
	ctx := context.Background()
	bodies := map[string]string{}
	for _, name := range []string{"a.cast", "b.cast", "c.cast"} {
		body := `{"version":2,"width":80,"height":24,"title":"` + name + `"}` + "\n" + strings.Repeat(`[0.1, "o", "`+name+`"]`+"\n", 1000)
		bodies[name] = body
		if err := st.Put(ctx, name, "alice", strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
	firstLine := func(name string) string {
		r, size, err := st.Open(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if size != int64(len(bodies[name])) {
			t.Errorf("%s size %d, want %d", name, size, len(bodies[name]))
		}
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return line
	}
	for name, body := range bodies {
		if got := firstLine(name); got != body[:strings.IndexByte(body, '\n')+1] {
			t.Fatalf("%s first line %q", name, got)
		}
	}
	reads := s3.ObjectReads.Load()
	for name := range bodies {
		firstLine(name)
	}
	if got := s3.ObjectReads.Load(); got != reads {
		t.Errorf("reading the headers again asked the bucket %d times, want 0", got-reads)
	}
	// Cached or not, the whole recording and any range read right.
	for _, off := range []int64{0, 5, 60, 4000} {
		r, _, err := st.Open(ctx, "b.cast")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Seek(0, io.SeekEnd); err != nil { // as http.ServeContent does
			t.Fatal(err)
		}
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(b) != bodies["b.cast"][off:] {
			t.Errorf("b.cast from %d: %d bytes, %v; want %d", off, len(b), err, len(bodies["b.cast"])-int(off))
		}
	}
}
