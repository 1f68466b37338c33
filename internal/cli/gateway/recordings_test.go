package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/audit/bucket"
	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/internal/cli"
	"github.com/porthole/porthole/internal/iostreams"
	"github.com/porthole/porthole/internal/s3test"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/resize"
)

// recGateway is one run of `porthole gateway` recording into a bucket.
type recGateway struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// recordingOptions are the flags of a gateway in front of node that
// records into s3's bucket with spool as --recording-dir; xavier is in
// the auditors group.
func recordingOptions(t *testing.T, node, spool string, s3 *s3test.Server, key string) *Options {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	os.WriteFile(tokens, []byte("tok-a,alice,1\ntok-b,bob,2\ntok-x,xavier,3,\"auditors,staff\"\n"), 0o600)
	ios, _, _, _ := iostreams.Test()
	f := &cli.Factory{IOStreams: ios, ConfigDir: func() (string, error) { return filepath.Join(dir, "config"), nil }}
	env := map[string]string{"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": s3test.SecretKey}
	return &Options{IO: ios, Factory: f, Listen: "127.0.0.1:0", Upstream: node, PlainHTTP: true, ShutdownGrace: time.Second,
		Security: Security{TokenAuthFile: tokens, RecordingDir: spool, MaxSessions: 10, MaxSessionsPerUser: 10,
			MaxMessageBytes: 1 << 20, MaxHeaderBytes: 1 << 16, IdleTimeout: time.Hour},
		Recordings: Recordings{Bucket: s3test.Bucket, Endpoint: "http://" + s3.Addr, PathStyle: true, Prefix: "recordings/",
			Region: "us-east-1", AuditorGroups: []string{"auditors"}, Getenv: func(k string) string { return env[k] }}}
}

func startRecGateway(t *testing.T, opts *Options) *recGateway {
	t.Helper()
	pr, pw := io.Pipe()
	opts.IO.Out = pw
	ctx, cancel := context.WithCancel(context.Background())
	g := &recGateway{cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := Run(ctx, opts)
		pw.Close()
		g.done <- err
	}()
	br := bufio.NewReader(pr)
	banner, err := br.ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no banner: %v (run: %v)", err, <-g.done)
	}
	m := regexp.MustCompile(`^gateway listening on (http://127\.0\.0\.1:\d+),`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner %q", banner)
	}
	go io.Copy(io.Discard, br)
	g.addr = m[1]
	return g
}

func (g *recGateway) stop(t *testing.T) {
	t.Helper()
	g.cancel()
	if err := <-g.done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// ttyExec runs cmd with a tty in pod p as the token's user; it returns
// what the user saw.
func (g *recGateway) ttyExec(t *testing.T, token string, cmd ...string) string {
	t.Helper()
	c, err := client.New(&client.Config{Host: g.addr, BearerToken: token})
	if err != nil {
		t.Fatal(err)
	}
	sizes := make(chan resize.Size, 1)
	sizes <- resize.Size{Width: 100, Height: 30}
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = c.Exec(ctx, &client.ExecOptions{Namespace: kube.DefaultNamespace, Pod: "p", Command: cmd,
		StreamOptions: client.StreamOptions{Stdout: &out, TTY: true, Sizes: sizes}})
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	return out.String()
}

// get fetches path of the web terminal as token's user.
func (g *recGateway) get(t *testing.T, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// listed returns the names the web terminal lists to token's user.
func (g *recGateway) listed(t *testing.T, token string) []string {
	t.Helper()
	code, b := g.get(t, "/ui/recordings/", token)
	var list struct {
		Items []struct{ Name, Owner string }
	}
	if err := json.Unmarshal(b, &list); code != 200 || err != nil {
		t.Fatalf("list as %s: %d %s", token, code, b)
	}
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Name)
	}
	slices.Sort(names)
	return names
}

// bucketNames lists the recordings in the bucket with our client.
func bucketNames(t *testing.T, s3 *s3test.Server) []string {
	t.Helper()
	st, err := bucket.Open(context.Background(), &bucket.Config{Endpoint: "http://" + s3.Addr, Bucket: s3test.Bucket,
		Prefix: "recordings/", PathStyle: true, Region: "us-east-1",
		Credentials: bucket.Credentials{AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	slices.Sort(names)
	return names
}

// castOutput checks an asciicast's header names owner and returns its
// output events joined.
func castOutput(t *testing.T, b []byte, owner string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var h struct {
		Version, Width, Height int
		Env                    map[string]string
	}
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil || h.Version != 2 || h.Width != 100 || h.Height != 30 || h.Env["PORTHOLE_USER"] != owner {
		t.Fatalf("header %s (%v), want version 2, 100x30, owner %s", lines[0], err, owner)
	}
	var out strings.Builder
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %q: %v", l, err)
		}
		if ev[1] == "o" {
			out.WriteString(ev[2].(string))
		}
	}
	return out.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spooled(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecordingsInBucket: a tty exec through the gateway is recorded,
// uploaded when it ends (the spool empties), listed and played from the
// bucket by its owner and the auditor only; a recording that could not be
// uploaded before a shutdown is uploaded by the next start.
func TestRecordingsInBucket(t *testing.T) {
	node := streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, nil).URL
	s3 := s3test.Start(t)
	spool := t.TempDir()
	g := startRecGateway(t, recordingOptions(t, node, spool, s3, s3test.AccessKey))

	saw := g.ttyExec(t, "tok-a", "sh", "-c", "printf 'héllo\\nwörld 😀'")
	if !strings.Contains(saw, "wörld 😀") {
		t.Fatalf("alice saw %q", saw)
	}
	waitUntil(t, "the upload", func() bool { return len(bucketNames(t, s3)) == 1 && len(spooled(t, spool)) == 0 })
	alices := bucketNames(t, s3)[0]
	obj, _, err := s3.Get("recordings/" + alices)
	if err != nil {
		t.Fatal(err)
	}
	if got := castOutput(t, obj, "alice"); got != saw {
		t.Errorf("the bucket's recording replays %q, alice saw %q", got, saw)
	}

	if code, b := g.get(t, "/metrics", "tok-a"); code != 200 ||
		!strings.Contains(string(b), `porthole_recording_uploads_total{result="uploaded"} 1`+"\n") ||
		!strings.Contains(string(b), "porthole_recording_uploads_pending 0\n") {
		t.Errorf("/metrics: %d, want one upload and none pending:\n%s", code, b)
	}

	// The web terminal lists and plays from the bucket: each their own,
	// the auditor all.
	if got := g.listed(t, "tok-a"); !slices.Equal(got, []string{alices}) {
		t.Errorf("alice lists %v, want [%s]", got, alices)
	}
	if got := g.listed(t, "tok-b"); len(got) != 0 {
		t.Errorf("bob lists %v, want none", got)
	}
	if code, b := g.get(t, "/ui/recordings/"+alices, "tok-a"); code != 200 || string(b) != string(obj) {
		t.Errorf("alice plays hers: %d, %d bytes, want the bucket's %d", code, len(b), len(obj))
	}
	if code, _ := g.get(t, "/ui/recordings/"+alices, "tok-b"); code != 404 {
		t.Errorf("bob plays alice's: %d, want 404", code)
	}
	if code, b := g.get(t, "/ui/recordings/"+alices, "tok-x"); code != 200 || string(b) != string(obj) {
		t.Errorf("the auditor plays alice's: %d", code)
	}

	// The bucket is away when bob's session ends and through the
	// shutdown: the recording stays in the spool.
	s3.Down()
	g.ttyExec(t, "tok-b", "sh", "-c", "echo bob was here")
	waitUntil(t, "bob's recording in the spool", func() bool { return len(spooled(t, spool)) == 1 })
	g.stop(t)
	left := spooled(t, spool)
	if len(left) != 1 {
		t.Fatalf("spool after shutdown: %v", left)
	}
	bobs := filepath.Base(left[0])
	spooledBytes, err := os.ReadFile(left[0])
	if err != nil {
		t.Fatal(err)
	}

	// The next start, with the bucket back, uploads it.
	s3.Up()
	g = startRecGateway(t, recordingOptions(t, node, spool, s3, s3test.AccessKey))
	waitUntil(t, "the leftover's upload", func() bool { return len(spooled(t, spool)) == 0 })
	if got, want := bucketNames(t, s3), []string{alices, bobs}; !slices.Equal(got, want) && !slices.Equal(got, []string{bobs, alices}) {
		t.Fatalf("bucket holds %v, want %v", got, want)
	}
	if b, _, err := s3.Get("recordings/" + bobs); err != nil || string(b) != string(spooledBytes) {
		t.Fatalf("bob's recording in the bucket differs from the spooled one (%v)", err)
	}
	if got := castOutput(t, spooledBytes, "bob"); !strings.Contains(got, "bob was here") {
		t.Errorf("bob's recording replays %q", got)
	}
	if got := g.listed(t, "tok-x"); len(got) != 2 {
		t.Errorf("the auditor lists %v, want both", got)
	}
	if got := g.listed(t, "tok-b"); !slices.Equal(got, []string{bobs}) {
		t.Errorf("bob lists %v, want [%s]", got, bobs)
	}

	// A graceful shutdown right after a session waits for its upload.
	g.ttyExec(t, "tok-a", "sh", "-c", "echo last")
	g.stop(t)
	if left := spooled(t, spool); len(left) != 0 {
		t.Errorf("spool after a graceful shutdown with the bucket up: %v", left)
	}
	if got := bucketNames(t, s3); len(got) != 3 {
		t.Errorf("bucket after a graceful shutdown: %v, want 3 recordings", got)
	}
}

// TestRecordingBucketFailsFast: a gateway that could not keep its
// recordings does not start, and says why.
func TestRecordingBucketFailsFast(t *testing.T) {
	s3 := s3test.Start(t)
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"wrong key", func(o *Options) {}, "credentials refused"},
		{"no credentials", func(o *Options) { o.Recordings.Getenv = func(string) string { return "" } }, "no credentials"},
		{"missing bucket", func(o *Options) { o.Recordings.Bucket = "elsewhere" }, "does not exist"},
		{"bad credentials file", func(o *Options) { o.Recordings.CredentialsFile = filepath.Join(t.TempDir(), "none") }, "recording credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := recordingOptions(t, "http://127.0.0.1:1", t.TempDir(), s3, "AKIDWRONG")
			if tc.name != "wrong key" {
				opts = recordingOptions(t, "http://127.0.0.1:1", t.TempDir(), s3, s3test.AccessKey)
			}
			tc.edit(opts)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := Run(ctx, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run: %v, want %q", err, tc.want)
			}
			if ctx.Err() != nil {
				t.Fatal("run did not fail fast")
			}
		})
	}
}
