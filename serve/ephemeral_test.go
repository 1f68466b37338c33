package serve

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// TestEphemeralContainersAPI: a pod's ephemeralcontainers subresource, as
// kubectl debug writes it: the strategic merge patch adds a container
// that the local runtime runs at once, whose status and log are the
// pod's like any other's; a removal or a change is refused with the API
// server's 422; other methods get its 405.
func TestEphemeralContainersAPI(t *testing.T) {
	s, _ := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("keep")}})
	const path = "/api/v1/namespaces/default/pods/keep/ephemeralcontainers"
	send := func(method, contentType, body string) (int, string) {
		t.Helper()
		return doAs(t, s, method, path, contentType, body)
	}
	code, body := send("PATCH", "application/strategic-merge-patch+json",
		`{"spec":{"$setElementOrder/ephemeralContainers":[{"name":"debugger"}],"ephemeralContainers":[{"command":["sh","-c","echo from-debug"],`+
			`"image":"busybox","name":"debugger","resources":{},"securityContext":{"capabilities":{"add":["SYS_PTRACE"]}},"terminationMessagePolicy":"File"}]}}`)
	var p kube.Pod
	if err := json.Unmarshal([]byte(body), &p); code != 200 || err != nil || len(p.Spec.EphemeralContainers) != 1 {
		t.Fatalf("kubectl debug's patch: %d %s", code, body)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		getJSON(t, s, path, &p)
		if st := p.Status.EphemeralContainerStatuses; len(st) == 1 && st[0].State.Terminated != nil {
			if st[0].Name != "debugger" || st[0].State.Terminated.ExitCode != 0 {
				t.Fatalf("debugger's status: %+v", st[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the debugger never ended: %+v", p.Status)
		}
		time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
	}
	if code, body := get(t, s.URL()+"/api/v1/namespaces/default/pods/keep/log?container=debugger"); code != 200 || body != "from-debug\n" {
		t.Errorf("the debugger's log: %d %q, want 200 %q", code, body, "from-debug\n")
	}

	without := p
	without.Spec.EphemeralContainers = nil
	encoded, _ := json.Marshal(without)
	for _, tc := range []struct {
		method, contentType, body string
		code                      int
		want                      string
	}{
		{"PUT", "application/json", string(encoded), 422, `existing ephemeral containers \"debugger\" may not be removed`},
		{"PATCH", "application/merge-patch+json", `{"spec":{"ephemeralContainers":[{"name":"debugger","image":"alpine"}]}}`, 422,
			`existing ephemeral containers \"debugger\" may not be changed`},
		{"PATCH", "application/strategic-merge-patch+json", `{"spec":{"ephemeralContainers":[{"name":"c"}]}}`, 422, `duplicate container name \"c\"`},
		{"DELETE", "application/json", "", 405, `"reason":"MethodNotAllowed"`},
		{"POST", "application/json", "{}", 405, `"reason":"MethodNotAllowed"`},
	} {
		if code, body := send(tc.method, tc.contentType, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %.80s: %d %.300s, want %d and %s", tc.method, tc.body, code, body, tc.code, tc.want)
		}
	}
	getJSON(t, s, "/api/v1/namespaces/default/pods/keep", &p)
	if len(p.Spec.EphemeralContainers) != 1 || len(p.Spec.Containers) != 1 || p.Status.Phase != "Running" {
		t.Errorf("after the refusals: %d ephemeral containers, %d containers, phase %s; want 1, 1, Running",
			len(p.Spec.EphemeralContainers), len(p.Spec.Containers), p.Status.Phase)
	}
}
