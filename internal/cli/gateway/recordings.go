package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/audit/bucket"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/web"
)

// Recordings are the flags that keep the recordings in an S3-compatible
// bucket, so they outlive the replica that recorded them, and say who may
// see everyone's. `porthole gateway` only: serve is one process.
type Recordings struct {
	Bucket          string
	Endpoint        string
	Region          string
	Prefix          string
	PathStyle       bool
	AllowHTTP       bool
	CredentialsFile string
	AuditorGroups   []string
	// Getenv reads the credentials' environment (nil: os.Getenv).
	Getenv func(string) string

	store    *bucket.Store
	uploader *bucket.Uploader
}

// AddFlags defines the flags on fs.
func (r *Recordings) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&r.Bucket, "recording-bucket", "", "upload each recording when its session ends to this S3-compatible bucket, and list and play them from there; --recording-dir is the local spool (default: a private directory under the temporary directory)")
	fs.StringVar(&r.Endpoint, "recording-endpoint", "", "S3 API endpoint of --recording-bucket, URL or host[:port], https unless it says http:// (default s3.amazonaws.com)")
	fs.StringVar(&r.Region, "recording-region", "", "region of --recording-bucket (default: asked of the endpoint)")
	fs.StringVar(&r.Prefix, "recording-prefix", "recordings/", "key prefix of the recordings in --recording-bucket (PREFIX + ID.cast)")
	fs.BoolVar(&r.PathStyle, "recording-path-style", false, "address --recording-bucket in the path (ENDPOINT/BUCKET/KEY), as most self-hosted S3 servers want")
	fs.BoolVar(&r.AllowHTTP, "recording-endpoint-allow-http", false, "allow an http:// --recording-endpoint beyond loopback (credentials and recordings cross the network in the clear)")
	fs.StringVar(&r.CredentialsFile, "recording-credentials-file", "", "file of AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=... (and AWS_SESSION_TOKEN=...) lines for --recording-bucket (default: those environment variables)")
	fs.StringArrayVar(&r.AuditorGroups, "recording-auditor-group", nil, "members of this group see every user's recordings in the web terminal (others see their own); repeatable")
}

// Apply opens the bucket (failing when it is missing or the credentials
// are refused), starts the uploader, which first uploads what an earlier
// run left in the spool, and sets o.Recorder to record into the spool.
// Without --recording-bucket it does nothing.
func (r *Recordings) Apply(ctx context.Context, sec *Security, o *gateway.Options, reg prometheus.Registerer, log *slog.Logger) error {
	if r.Bucket == "" {
		return nil
	}
	creds, err := r.credentials()
	if err != nil {
		return err
	}
	spool := sec.RecordingDir
	if spool == "" {
		if spool, err = defaultSpool(); err != nil {
			return err
		}
	} else if err := os.MkdirAll(spool, 0o700); err != nil {
		return fmt.Errorf("recording spool: %w", err)
	}
	r.store, err = bucket.Open(ctx, &bucket.Config{Endpoint: r.Endpoint, AllowHTTP: r.AllowHTTP, Bucket: r.Bucket,
		Region: r.Region, Prefix: r.Prefix, PathStyle: r.PathStyle, Credentials: creds})
	if err != nil {
		return err
	}
	uploads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "porthole_recording_uploads_total",
		Help: "Recording uploads to the bucket by result (uploaded, failed: retried later)."}, []string{"result"})
	if reg != nil {
		if err := reg.Register(uploads); err != nil {
			return fmt.Errorf("register recording metrics: %w", err)
		}
	}
	r.uploader, err = bucket.NewUploader(r.store, spool, &bucket.UploaderOptions{Logger: log.With("component", "recording-uploader"),
		Uploaded: uploads.WithLabelValues("uploaded").Inc, Failed: uploads.WithLabelValues("failed").Inc})
	if err != nil {
		return err
	}
	if reg != nil {
		pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "porthole_recording_uploads_pending",
			Help: "Recordings in the spool waiting for upload."}, func() float64 { return float64(r.uploader.Pending()) })
		if err := reg.Register(pending); err != nil {
			r.uploader.Close(context.Background())
			return fmt.Errorf("register recording metrics: %w", err)
		}
	}
	o.Recorder = &audit.Recorder{Dir: spool, Closed: r.uploader.Closed}
	return nil
}

func (r *Recordings) credentials() (bucket.Credentials, error) {
	if r.CredentialsFile != "" {
		return bucket.LoadCredentials(r.CredentialsFile)
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return bucket.FromEnv(getenv), nil // Open says when they are missing
}

// Close waits for the pending uploads until ctx ends (the shutdown grace);
// what is left stays in the spool for the next start.
func (r *Recordings) Close(ctx context.Context) error {
	if r.uploader == nil {
		return nil
	}
	return r.uploader.Close(ctx)
}

// site fills the recordings part of the web terminal's options: the
// bucket when there is one, and the auditors.
func (r *Recordings) site(opts *web.SiteOptions) {
	if r.store != nil {
		opts.Recordings = bucketSource{r.store}
	}
	if len(r.AuditorGroups) > 0 {
		opts.Auditor = func(req *http.Request) bool {
			return slices.ContainsFunc(gateway.UserGroups(req), func(g string) bool { return slices.Contains(r.AuditorGroups, g) })
		}
	}
}

// bucketSource is the bucket as the web terminal's RecordingSource.
type bucketSource struct{ s *bucket.Store }

func (b bucketSource) List(ctx context.Context) ([]web.RecordingInfo, error) {
	objs, err := b.s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.RecordingInfo, len(objs))
	for i, o := range objs {
		out[i] = web.RecordingInfo{Name: o.Name, Size: o.Size}
	}
	return out, nil
}

func (b bucketSource) Open(ctx context.Context, name string) (io.ReadSeekCloser, int64, error) {
	f, size, err := b.s.Open(ctx, name)
	if errors.Is(err, bucket.ErrNotFound) {
		return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return f, size, err
}

// defaultSpool is a directory under the temporary directory that keeps
// its name across restarts, so what one run could not upload the next
// finds; it must be a private directory, not a link.
func defaultSpool() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("porthole-recording-spool-%d", os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("recording spool: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("recording spool: %w", err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		return "", fmt.Errorf("recording spool %s is not a private directory (mode %v); name one with --recording-dir", dir, fi.Mode())
	}
	return dir, nil
}
