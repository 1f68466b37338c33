// Package bucket keeps the gateway's session recordings in S3-compatible
// object storage, so they outlive the replica that recorded them: Store
// talks to the bucket, Uploader moves closed recordings there from the
// local spool directory the audit.Recorder writes into.
package bucket

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config names a bucket and how to reach it.
type Config struct {
	// Endpoint is the S3 API's URL or host[:port] (https unless the URL
	// says http). Empty means Amazon S3 (s3.amazonaws.com).
	Endpoint string
	// AllowHTTP lets Endpoint be plain http on an address beyond
	// loopback; without it only loopback endpoints may be http.
	AllowHTTP bool
	Bucket    string
	Region    string
	// Prefix is put before each recording's name to make its key
	// ("recordings/" gives recordings/ID.cast).
	Prefix string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key),
	// as most self-hosted servers want, instead of a virtual host.
	PathStyle   bool
	Credentials Credentials
	// Transport replaces the HTTP transport (tests; a custom CA).
	Transport http.RoundTripper
}

// Store is an opened bucket. It is safe for concurrent use.
type Store struct {
	c      *minio.Client
	bucket string
	prefix string
	heads  headCache
}

// Object is one recording in the bucket.
type Object struct {
	Name    string // the key without the prefix: ID.cast
	Size    int64
	ModTime time.Time
}

// checkTimeout bounds Open's check that the bucket is there.
const checkTimeout = 30 * time.Second

// Open connects to the bucket of cfg and checks that it exists and the
// credentials may use it, so a misconfigured gateway fails at start rather
// than losing its first recordings.
func Open(ctx context.Context, cfg *Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("recording bucket: no bucket name")
	}
	host, secure, err := endpoint(cfg.Endpoint, cfg.AllowHTTP)
	if err != nil {
		return nil, err
	}
	if err := cfg.Credentials.validate(); err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.Credentials.AccessKeyID, cfg.Credentials.SecretAccessKey, cfg.Credentials.SessionToken),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
		MaxRetries:   1, // the Uploader retries with its own backoff
	})
	if err != nil {
		return nil, fmt.Errorf("recording bucket endpoint %s: %w", host, err)
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("recording bucket %s at %s: %w", cfg.Bucket, host, describe(err))
	}
	if !ok {
		return nil, fmt.Errorf("recording bucket %s at %s does not exist", cfg.Bucket, host)
	}
	return &Store{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

// describe adds what the S3 error code means for the operator.
func describe(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.InvalidAccessKeyID, "SignatureDoesNotMatch", minio.AccessDenied:
		return fmt.Errorf("credentials refused (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or the credentials file): %w", err)
	}
	return err
}

// endpoint splits the configured endpoint into minio's host[:port] and
// whether to use TLS.
func endpoint(s string, allowHTTP bool) (string, bool, error) {
	if s == "" {
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("recording endpoint: %w", err)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("recording endpoint %q: want scheme://host[:port] and nothing else", s)
	}
	switch u.Scheme {
	case "https":
		return u.Host, true, nil
	case "http":
		if !allowHTTP && !loopback(u.Hostname()) {
			return "", false, fmt.Errorf("recording endpoint %s is plain http beyond loopback: the credentials and recordings would cross the network in the clear (allow it explicitly if a trusted network carries it)", u.Host)
		}
		return u.Host, false, nil
	}
	return "", false, fmt.Errorf("recording endpoint %q: scheme must be https or http", s)
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Key is the object key of recording name.
func (s *Store) Key(name string) string { return s.prefix + name }

// Put uploads size bytes of r as recording name, with owner in the
// object's metadata, and checks that the bucket holds exactly size bytes
// whose MD5 the server verified (Content-MD5) and, for a single-part
// upload, reports back as the ETag.
func (s *Store) Put(ctx context.Context, name, owner string, r io.Reader, size int64) error {
	opts := minio.PutObjectOptions{ContentType: "application/x-asciicast", SendContentMd5: true}
	if owner != "" {
		opts.UserMetadata = map[string]string{"porthole-user": owner}
	}
	sum := md5.New()
	info, err := s.c.PutObject(ctx, s.bucket, s.Key(name), io.TeeReader(r, sum), size, opts)
	if err != nil {
		return fmt.Errorf("upload %s: %w", s.Key(name), describe(err))
	}
	if info.Size != size {
		return fmt.Errorf("upload %s: the bucket took %d bytes of %d", s.Key(name), info.Size, size)
	}
	st, err := s.c.StatObject(ctx, s.bucket, s.Key(name), minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("check upload %s: %w", s.Key(name), describe(err))
	}
	if st.Size != size {
		return fmt.Errorf("check upload %s: the bucket holds %d bytes, want %d", s.Key(name), st.Size, size)
	}
	// A single-part upload's ETag is the MD5 of its bytes (a multipart
	// one's has a "-N" suffix and is checked part by part by the server).
	if etag := strings.Trim(st.ETag, `"`); !strings.Contains(etag, "-") && !strings.EqualFold(etag, hex.EncodeToString(sum.Sum(nil))) {
		return fmt.Errorf("check upload %s: the bucket's ETag %s is not the MD5 of the bytes sent", s.Key(name), etag)
	}
	return nil
}

// maxList bounds how many objects List reads.
const maxList = 10000

// List returns the recordings under the prefix (at most maxList); names
// with a further "/" are not recordings and are left out.
func (s *Store) List(ctx context.Context) ([]Object, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing goroutine when we stop early
	var out []Object
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list recordings: %w", describe(o.Err))
		}
		name := strings.TrimPrefix(o.Key, s.prefix)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		out = append(out, Object{Name: name, Size: o.Size, ModTime: o.LastModified})
		if len(out) >= maxList {
			break
		}
	}
	return out, nil
}

// ErrNotFound is returned by Open for a recording the bucket does not hold.
var ErrNotFound = errors.New("recording not found")

// Open returns recording name for reading and seeking (ranges are
// fetched as read), and its size. The first line (the asciicast header)
// of a recording once read is kept in memory: recordings are written once,
// so a listing that reads every header asks the bucket only about new ones.
func (s *Store) Open(ctx context.Context, name string) (io.ReadSeekCloser, int64, error) {
	if h, ok := s.heads.get(name); ok {
		return &object{s: s, ctx: ctx, name: name, size: h.size, head: h.line}, h.size, nil
	}
	obj, size, err := s.openObject(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	return &object{s: s, ctx: ctx, name: name, size: size, obj: obj, capturing: true}, size, nil
}

func (s *Store) openObject(ctx context.Context, name string) (*minio.Object, int64, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, s.Key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", s.Key(name), describe(err))
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, 0, ErrNotFound
		}
		return nil, 0, fmt.Errorf("open %s: %w", s.Key(name), describe(err))
	}
	return obj, st.Size, nil
}

// object reads a recording: its cached first line from memory, the rest
// from the bucket, opened on the first read past it.
type object struct {
	s    *Store
	ctx  context.Context
	name string
	size int64
	head []byte
	off  int64
	obj  *minio.Object
	// objOff is obj's position (-1: unknown, seek before reading).
	objOff int64
	// capture keeps what is read from offset 0 until the first newline,
	// for the cache.
	capture   []byte
	capturing bool
}

func (o *object) Read(p []byte) (int, error) {
	if o.off < int64(len(o.head)) {
		n := copy(p, o.head[o.off:])
		o.off += int64(n)
		return n, nil
	}
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.obj == nil {
		obj, _, err := o.s.openObject(o.ctx, o.name)
		if err != nil {
			return 0, err
		}
		o.obj, o.objOff = obj, -1
	}
	if o.objOff != o.off {
		if _, err := o.obj.Seek(o.off, io.SeekStart); err != nil {
			return 0, err
		}
		o.objOff = o.off
	}
	n, err := o.obj.Read(p)
	if o.capturing {
		o.keep(p[:n])
	}
	o.off += int64(n)
	o.objOff = o.off
	return n, err
}

// keep adds p, read at o.off, to the capture and caches the first line
// once it is whole.
func (o *object) keep(p []byte) {
	if o.off != int64(len(o.capture)) {
		o.capturing = false // not read in one sweep from the start
		return
	}
	o.capture = append(o.capture, p...)
	if i := bytes.IndexByte(o.capture, '\n'); i >= 0 {
		o.s.heads.put(o.name, o.size, o.capture[:i+1])
		o.capturing, o.capture = false, nil
	} else if len(o.capture) > maxHeadLine {
		o.capturing, o.capture = false, nil
	}
}

func (o *object) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.off + offset
	case io.SeekEnd:
		abs = o.size + offset
	default:
		return 0, fmt.Errorf("seek %s: whence %d", o.name, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("seek %s: negative position", o.name)
	}
	o.off = abs // the object follows at the next read
	return abs, nil
}

func (o *object) Close() error {
	if o.obj == nil {
		return nil
	}
	return o.obj.Close()
}

// Bounds of the cache of first lines.
const (
	maxHeadLine    = 64 << 10
	maxCachedHeads = 10000
)

// headCache maps recording names to their first line and size.
type headCache struct {
	mu sync.Mutex
	m  map[string]cachedHead
}

type cachedHead struct {
	size int64
	line []byte
}

func (c *headCache) get(name string) (cachedHead, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[name]
	return h, ok
}

func (c *headCache) put(name string, size int64, line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedHead{}
	}
	if len(c.m) >= maxCachedHeads {
		clear(c.m) // simplest bound: start over
	}
	c.m[name] = cachedHead{size: size, line: bytes.Clone(line)}
}
