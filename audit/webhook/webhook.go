// Package webhook sends the gateway's audit events to an HTTP endpoint in
// batches, in the API server's audit webhook shape (an audit.k8s.io/v1
// EventList POSTed as JSON), so the log pipeline that takes
// kube-apiserver's audit takes the gateway's too. Sessions never wait for
// it: events go into a bounded queue, and when the queue is full or the
// endpoint keeps failing they are dropped, counted and logged.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/porthole/porthole/audit"
)

// Options configure New. Zero values take the defaults.
type Options struct {
	// URL receives the POSTs: https, or http on loopback only unless
	// AllowHTTP.
	URL       string
	AllowHTTP bool
	// Client sends them (default: 10 s timeout, the default transport).
	Client *http.Client
	// QueueSize bounds the events waiting (default 10000, as
	// kube-apiserver's --audit-webhook-batch-buffer-size).
	QueueSize int
	// BatchMaxSize and BatchMaxWait: a batch is sent when it holds
	// BatchMaxSize events (default 400) or its first waited BatchMaxWait
	// (default 1s).
	BatchMaxSize int
	BatchMaxWait time.Duration
	// Attempts per batch (default 5), with a backoff doubling from
	// MinBackoff (default 500ms); then the batch is dropped.
	Attempts   int
	MinBackoff time.Duration
	// Dropped, when set, counts dropped events (a metric).
	Dropped func(n int)
	Logger  *slog.Logger
}

// Webhook is an audit.Sink. Record never blocks.
type Webhook struct {
	opts   Options
	log    *slog.Logger
	queue  chan audit.Event
	stop   context.CancelFunc
	ctx    context.Context
	done   chan struct{}
	mu     sync.Mutex
	closed bool
	// lastDropLog rate-limits the log of drops.
	lastDropLog time.Time
	dropsUnlogd int
}

// New validates opts.URL and starts the sender.
func New(opts *Options) (*Webhook, error) {
	w := &Webhook{done: make(chan struct{})}
	if opts != nil {
		w.opts = *opts
	}
	if err := checkURL(w.opts.URL, w.opts.AllowHTTP); err != nil {
		return nil, err
	}
	if w.opts.Client == nil {
		w.opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if w.opts.QueueSize <= 0 {
		w.opts.QueueSize = 10000
	}
	if w.opts.BatchMaxSize <= 0 {
		w.opts.BatchMaxSize = 400
	}
	if w.opts.BatchMaxWait <= 0 {
		w.opts.BatchMaxWait = time.Second
	}
	if w.opts.Attempts <= 0 {
		w.opts.Attempts = 5
	}
	if w.opts.MinBackoff <= 0 {
		w.opts.MinBackoff = 500 * time.Millisecond
	}
	w.log = w.opts.Logger
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.queue = make(chan audit.Event, w.opts.QueueSize)
	w.ctx, w.stop = context.WithCancel(context.Background())
	go w.run()
	return w, nil
}

func checkURL(s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("audit webhook URL: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("audit webhook URL %q: want https://host[:port]/path", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if allowHTTP || strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("audit webhook URL %s is plain http beyond loopback: the audit would cross the network in the clear", u.Redacted())
	}
	return fmt.Errorf("audit webhook URL %q: scheme must be https or http", u.Redacted())
}

// Record queues e for the next batch, or drops it when the queue is full
// (the endpoint is slower than the gateway, or down) or the webhook is
// closed. A drop is counted (Options.Dropped) and logged at most once a
// second, not returned: the caller would log every one.
func (w *Webhook) Record(e audit.Event) error {
	w.mu.Lock()
	sent := false
	if !w.closed { // under mu: Close closes the queue under mu
		select {
		case w.queue <- e:
			sent = true
		default:
		}
	}
	w.mu.Unlock()
	if sent {
		return nil
	}
	w.drop(1, "queue full")
	return nil
}

// drop counts n dropped events and logs at most once a second.
func (w *Webhook) drop(n int, why string) {
	if w.opts.Dropped != nil {
		w.opts.Dropped(n)
	}
	w.mu.Lock()
	w.dropsUnlogd += n
	now := time.Now()
	if now.Sub(w.lastDropLog) < time.Second {
		w.mu.Unlock()
		return
	}
	count := w.dropsUnlogd
	w.dropsUnlogd, w.lastDropLog = 0, now
	w.mu.Unlock()
	w.log.Error("audit webhook dropped events", "count", count, "why", why)
}

// Close sends what is queued until ctx ends, then stops; events still
// queued are dropped (and counted).
func (w *Webhook) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		w.stop()
		<-w.done
	}
	w.stop()
	if n := len(w.queue); n > 0 {
		w.drop(n, "shutdown")
		return fmt.Errorf("audit webhook: %d events not sent before shutdown", n)
	}
	return nil
}

// run gathers batches and sends them until the queue is closed and empty
// or the webhook is stopped.
func (w *Webhook) run() {
	defer close(w.done)
	for {
		batch, more := w.gather()
		if len(batch) > 0 {
			w.send(batch)
		}
		if !more || w.ctx.Err() != nil {
			return
		}
	}
}

// gather waits for a first event, then takes events until the batch is
// full or BatchMaxWait has passed; more is false once the queue is closed
// and drained.
func (w *Webhook) gather() (batch []audit.Event, more bool) {
	select {
	case e, ok := <-w.queue:
		if !ok {
			return nil, false
		}
		batch = append(batch, e)
	case <-w.ctx.Done():
		return nil, false
	}
	t := time.NewTimer(w.opts.BatchMaxWait)
	defer t.Stop()
	for len(batch) < w.opts.BatchMaxSize {
		select {
		case e, ok := <-w.queue:
			if !ok {
				return batch, false
			}
			batch = append(batch, e)
		case <-t.C:
			return batch, true
		case <-w.ctx.Done():
			return batch, true
		}
	}
	return batch, true
}

// send POSTs batch, retrying with backoff; a batch that cannot be sent is
// dropped.
func (w *Webhook) send(batch []audit.Event) {
	list := eventList{Kind: "EventList", APIVersion: "audit.k8s.io/v1", Items: make([]event, len(batch))}
	for i, e := range batch {
		list.Items[i] = convert(e)
	}
	body, err := json.Marshal(list)
	if err != nil {
		w.drop(len(batch), "encode: "+err.Error())
		return
	}
	backoff := w.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		err = w.post(body)
		if err == nil {
			return
		}
		if attempt >= w.opts.Attempts || w.ctx.Err() != nil {
			break
		}
		w.log.Warn("audit webhook failed, retrying", "attempt", attempt, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-w.ctx.Done():
		}
		t.Stop()
		backoff *= 2
	}
	w.drop(len(batch), err.Error())
}

func (w *Webhook) post(body []byte) error {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.opts.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("audit webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("audit webhook: %s", resp.Status)
	}
	return nil
}
