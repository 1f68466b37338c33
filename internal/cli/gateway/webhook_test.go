package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/porthole/porthole/internal/s3test"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// TestAuditWebhook: with --audit-webhook-url and --audit-log-path, a
// session's start and end reach both: the webhook as audit.k8s.io/v1
// EventLists whose two stages share the session's audit ID.
func TestAuditWebhook(t *testing.T) {
	var mu sync.Mutex
	var items []map[string]any
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var list struct {
			Kind, APIVersion string
			Items            []map[string]any
		}
		if err := json.NewDecoder(r.Body).Decode(&list); err != nil || list.Kind != "EventList" || list.APIVersion != "audit.k8s.io/v1" {
			t.Errorf("webhook POST: %+v %v", list, err)
		}
		mu.Lock()
		items = append(items, list.Items...)
		mu.Unlock()
	}))
	defer rcv.Close()
	node := streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, nil).URL
	opts := recordingOptions(t, node, t.TempDir(), s3test.Start(t), s3test.AccessKey)
	opts.Recordings = Recordings{}
	opts.Security.AuditWebhookURL = rcv.URL + "/audit"
	opts.Security.AuditLogPath = filepath.Join(t.TempDir(), "audit.jsonl")
	g := startRecGateway(t, opts)
	g.ttyExec(t, "tok-a", "true")
	stages := func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]string{}
		for _, it := range items {
			user, _ := it["user"].(map[string]any)
			ref, _ := it["objectRef"].(map[string]any)
			if user["username"] == "alice" && ref["subresource"] == "exec" && ref["name"] == "p" {
				out[it["stage"].(string)] = it["auditID"].(string)
			}
		}
		return out
	}
	waitUntil(t, "the session's start and end at the webhook", func() bool { return len(stages()) == 2 })
	g.stop(t)
	st := stages()
	if st["ResponseStarted"] == "" || st["ResponseStarted"] != st["ResponseComplete"] {
		t.Errorf("stages %v: want ResponseStarted and ResponseComplete with one audit ID", st)
	}
	b, err := os.ReadFile(opts.Security.AuditLogPath)
	if err != nil || strings.Count(string(b), `"id":"`+st["ResponseStarted"]+`"`) != 2 {
		t.Errorf("the audit log lacks the session's two records (%v):\n%s", err, b)
	}
}
