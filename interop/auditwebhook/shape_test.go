package auditwebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/porthole/porthole/audit/webhook"
	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// TestWebhookDecodesAsAPIServerAudit: a gateway in front of a porthole
// node sends a tty exec's start and end; each POST decodes into
// auditv1.EventList with unknown fields refused, and the events carry
// what the API server's would.
func TestWebhookDecodesAsAPIServerAudit(t *testing.T) {
	var mu sync.Mutex
	var events []auditv1.Event
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var list auditv1.EventList
		if err := dec.Decode(&list); err != nil {
			t.Errorf("not an audit.k8s.io/v1 EventList: %v\n%s", err, b)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if list.Kind != "EventList" || list.APIVersion != "audit.k8s.io/v1" {
			t.Errorf("list %s %s", list.APIVersion, list.Kind)
		}
		mu.Lock()
		events = append(events, list.Items...)
		mu.Unlock()
	}))
	defer rcv.Close()
	wh, err := webhook.New(&webhook.Options{URL: rcv.URL, BatchMaxWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	node := streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, nil)
	up, _ := url.Parse(node.URL)
	g, err := gateway.New(&gateway.Options{Upstream: up, Audit: wh})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	c, err := client.New(&client.Config{Host: gw.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	if err := c.Exec(ctx, &client.ExecOptions{Namespace: "default", Pod: "p", Command: []string{"echo", "hi"},
		StreamOptions: client.StreamOptions{Stdout: &out, TTY: true}}); err != nil {
		t.Fatal(err)
	}
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	gw.Close()
	if err := wh.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 {
		t.Fatalf("%d events, want the session's start and end: %+v", len(events), events)
	}
	start, end := events[0], events[1]
	if start.Stage != auditv1.StageResponseStarted || end.Stage != auditv1.StageResponseComplete {
		t.Errorf("stages %s, %s", start.Stage, end.Stage)
	}
	if start.AuditID == "" || start.AuditID != end.AuditID {
		t.Errorf("audit IDs %q, %q: want one, shared", start.AuditID, end.AuditID)
	}
	for _, e := range events {
		if e.Level != auditv1.LevelMetadata || e.Verb != "create" || e.ObjectRef == nil ||
			e.ObjectRef.Resource != "pods" || e.ObjectRef.Subresource != "exec" || e.ObjectRef.Name != "p" ||
			e.ObjectRef.Namespace != "default" || e.ResponseStatus == nil || e.ResponseStatus.Code != 101 ||
			!strings.HasPrefix(e.RequestURI, "/api/v1/namespaces/default/pods/p/exec?command=echo&command=hi") ||
			len(e.SourceIPs) != 1 || e.SourceIPs[0] != "127.0.0.1" {
			t.Errorf("event %+v", e)
		}
	}
	if end.StageTimestamp.Before(&start.StageTimestamp) || end.RequestReceivedTimestamp.IsZero() {
		t.Errorf("timestamps: start %v, end received %v stage %v", start.StageTimestamp, end.RequestReceivedTimestamp, end.StageTimestamp)
	}
	// A spliced session's exit code is the node's to tell, not seen here.
	if end.Annotations["porthole.dev/outcome"] != "ok" || end.Annotations["porthole.dev/tty"] != "true" {
		t.Errorf("end annotations %v", end.Annotations)
	}
}
