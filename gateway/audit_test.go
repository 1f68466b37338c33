package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/websocket"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) events(t *testing.T) []audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []audit.Event
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

// TestAuditMetricsAndRecording: a translated tty session and a refused one
// leave audit records, metrics and an asciicast recording of the output.
func TestAuditMetricsAndRecording(t *testing.T) {
	node := startNode(t)
	var log syncBuffer
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	gw, g := startGateway(t, node, &gateway.Options{UpstreamWire: protocol.SPDY, Audit: audit.NewJSONLog(&log),
		Registerer: reg, Recorder: &audit.Recorder{Dir: dir}})
	out, _, st := wsExec(t, execURL(gw, []string{"sh", "-c", "printf 'héllo'; exit 7"}, "stdout", "tty"), nil, nil)
	if string(out) != "héllo" || !strings.Contains(st, "exit code 7") {
		t.Fatalf("got %q %s", out, st)
	}
	// A refused request: a subprotocol nobody serves gets no upgrade.
	wsURL := execURL(gw, []string{"true"}, "stdout")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Versions: []protocol.Version{{Name: "v9.nothing"}}})
	var ue *stream.UpgradeError
	if !errors.As(err, &ue) {
		t.Fatalf("upgrade with an unknown protocol: %v, want a refusal", err)
	}
	if ue.StatusCode != http.StatusForbidden {
		t.Errorf("refusal %v: want the API server's 403 for an unsupported subprotocol", err)
	}
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	evs := log.events(t)
	var start, end *audit.Event
	for i := range evs {
		e := &evs[i]
		if e.Verb == "exec" && e.TTY && e.Stage == audit.StageStart {
			start = e
		}
		if e.Verb == "exec" && e.TTY && e.Stage == audit.StageEnd {
			end = e
		}
	}
	if start == nil || end == nil {
		t.Fatalf("records %+v", evs)
	}
	var refused *audit.Event
	for i := range evs {
		if e := &evs[i]; e.Stage == audit.StageEnd && strings.Join(e.Command, " ") == "true" {
			refused = e
		}
	}
	if refused == nil || refused.Outcome != "refused" || !strings.Contains(refused.Reason, "403") || refused.ExitCode != nil {
		t.Errorf("refused request's record %+v: want outcome refused naming the 403, no exit code", refused)
	}
	if end.User != gateway.Anonymous || end.WireIn != "websocket" || end.WireOut != "spdy" || end.ExitCode == nil || *end.ExitCode != 7 ||
		end.BytesOut != int64(len("héllo")) || end.Pod != "p" || strings.Join(end.Command, " ") != "sh -c printf 'héllo'; exit 7" || end.Duration == "" {
		t.Errorf("end record %+v", end)
	}
	if v := metricValue(t, reg, "porthole_gateway_sessions_total", map[string]string{"verb": "exec", "wire": "websocket", "outcome": "ok"}); v < 1 {
		t.Errorf("sessions_total = %v", v)
	}
	if v := metricValue(t, reg, "porthole_gateway_translations_total", map[string]string{"kind": "websocket-to-spdy"}); v < 1 {
		t.Errorf("translations_total = %v", v)
	}
	if v := metricValue(t, reg, "porthole_gateway_sessions_active", nil); v != 0 {
		t.Errorf("sessions_active = %v", v)
	}
	casts, _ := filepath.Glob(filepath.Join(dir, "*.cast"))
	if len(casts) != 1 {
		t.Fatalf("recordings %v", casts)
	}
	b, _ := os.ReadFile(casts[0])
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var replay strings.Builder
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 || ev[1] != "o" {
			t.Fatalf("event %q", l)
		}
		replay.WriteString(ev[2].(string))
	}
	if !strings.HasPrefix(lines[0], `{"version":2,`) || replay.String() != string(out) {
		t.Errorf("recording %q replays %q, want %q", lines[0], replay.String(), out)
	}
	var hdr audit.Header
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil || hdr.Env[audit.OwnerEnv] != "system:anonymous" {
		t.Errorf("recording header %q: owner %q, want the caller system:anonymous (%v)", lines[0], hdr.Env[audit.OwnerEnv], err)
	}
}

// TestLimitsEndOnlyThatSession: an oversized message and a resize flood
// end their own session, translated or spliced; another session on the
// gateway goes on.
func TestLimitsEndOnlyThatSession(t *testing.T) {
	node := startNode(t)
	for _, translate := range []bool{true, false} {
		name := "spliced"
		if translate {
			name = "translated"
		}
		t.Run(name, func(t *testing.T) { testLimits(t, node, translate) })
	}
}

func testLimits(t *testing.T, node string, translate bool) {
	var upstream protocol.Wire
	if translate {
		upstream = protocol.SPDY
	}
	gw, _ := startGateway(t, node, &gateway.Options{UpstreamWire: upstream, MaxMessageBytes: 4096, MaxResizePerSecond: 5})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other, _, err := websocket.Dial(ctx, execURL(gw, []string{"cat"}, "stdin", "stdout"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherOut := streamtest.ReadAll(other.Channel(channel.Stdout))
	otherSt := streamtest.ReadAll(other.Channel(channel.Error))

	t.Run("oversized message", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, execURL(gw, []string{"cat"}, "stdin", "stdout"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Drain stdout: cat may echo the message's first frames before the
		// gateway refuses the rest, and a client that stops reading stdout
		// never reads the close frame behind them (backpressure).
		go io.Copy(io.Discard, c.Channel(channel.Stdout))
		c.Channel(channel.Stdin).Write(make([]byte, 8000))
		<-c.Done()
		if c.Err() == nil {
			t.Error("session with an oversized message ended cleanly")
		}
	})
	t.Run("resize flood", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, execURL(gw, []string{"sh", "-c", "cat >/dev/null"}, "stdin", "stdout", "tty"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		st := streamtest.ReadAll(c.Channel(channel.Error))
		go streamtest.ReadAll(c.Channel(channel.Stdout))
		for range 50 {
			if _, err := c.Channel(channel.Resize).Write(resize.Append(nil, resize.Size{Width: 80, Height: 24})); err != nil {
				break
			}
		}
		got := string(<-st)
		<-c.Done()
		// Translated sessions end with a status naming the flood; spliced
		// ones are cut (the gateway does not speak inside them).
		if translate && !strings.Contains(got, "resize flood") || !translate && (got != "" || c.Err() == nil) {
			t.Errorf("status %q, end %v: want the session ended for the resize flood", got, c.Err())
		}
	})
	if _, err := other.Channel(channel.Stdin).Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	other.Channel(channel.Stdin).CloseWrite()
	if got := string(<-otherOut); got != "still here" || !strings.Contains(string(<-otherSt), "Success") {
		t.Errorf("other session: got %q", got)
	}
	if err := other.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("other session: %v", err)
	}
}
