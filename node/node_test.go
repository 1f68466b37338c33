package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/resize"
	"github.com/porthole/porthole/protocol/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testPods: "p" has one idle container; "two" has two.
func testPods() []*kube.Pod {
	return []*kube.Pod{streamtest.SleepPod("p"), streamtest.Pod("two",
		streamtest.Container("a", "sleep", "100000"), streamtest.Container("b", "sleep", "100000"))}
}

// startNode serves testPods on 127.0.0.1 and returns the base URL.
func startNode(t *testing.T) string { return streamtest.StartNode(t, testPods(), nil).URL }

func execURL(base, pod string, cmd []string, flags ...string) string {
	q := make([]string, 0, len(cmd)+len(flags))
	for _, c := range cmd {
		q = append(q, "command="+urlEscape(c))
	}
	for _, f := range flags {
		q = append(q, f+"=true")
	}
	return base + "/api/v1/namespaces/default/pods/" + pod + "/exec?" + strings.Join(q, "&")
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "%20", "=", "%3D", "#", "%23", "?", "%3F", ";", "%3B", "$", "%24", "'", "%27", ">", "%3E", "<", "%3C")
	return r.Replace(s)
}

// exitStatus is the error-channel content a version carries for exit code 42.
func wantStatus(v protocol.Version, code int) string {
	if code == 0 {
		if v.StatusJSON {
			return string(status.NewSuccess().Marshal())
		}
		return ""
	}
	if v.StatusJSON {
		return string(status.NewExit(code).Marshal())
	}
	return status.NewExit(code).Message
}

func TestErrorsBeforeUpgrade(t *testing.T) {
	base := startNode(t)
	tests := []struct {
		name, method, path string
		header             http.Header
		code               int
		reason, message    string
	}{
		{"unknown pod", "POST", "/api/v1/namespaces/default/pods/nope/exec?command=true&stdout=true", nil,
			404, "NotFound", `pods "nope" not found`},
		{"unknown namespace", "POST", "/api/v1/namespaces/elsewhere/pods/p/exec?command=true&stdout=true", nil,
			404, "NotFound", `pods "p" not found`},
		{"unknown container", "POST", "/api/v1/namespaces/default/pods/p/exec?command=true&stdout=true&container=x", nil,
			400, "BadRequest", "container x is not valid for pod p"},
		{"container needed", "POST", "/api/v1/namespaces/default/pods/two/exec?command=true&stdout=true", nil,
			400, "BadRequest", "a container name must be specified for pod two, choose one of: [a b]"},
		{"no stream", "POST", "/api/v1/namespaces/default/pods/p/exec?command=true", nil,
			400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr"},
		{"stdout=false", "POST", "/api/v1/namespaces/default/pods/p/exec?command=true&stdout=false", nil,
			400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr"},
		{"no command", "POST", "/api/v1/namespaces/default/pods/p/exec?stdout=true", nil,
			400, "BadRequest", "you must specify at least one command for the container"},
		{"not an upgrade", "POST", "/api/v1/namespaces/default/pods/p/exec?command=true&stdout=true", nil,
			400, "BadRequest", "Upgrade request required"},
		{"bad method", "PUT", "/api/v1/namespaces/default/pods/p/exec?command=true&stdout=true", nil,
			405, "MethodNotAllowed", "the server does not allow this method on the requested resource"},
		{"bad port", "POST", "/api/v1/namespaces/default/pods/p/portforward?ports=0", nil,
			400, "BadRequest", `invalid port "0": must be between 1 and 65535`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type: got %q", ct)
			}
			var st status.Status
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatal(err)
			}
			if st.Kind != "Status" || st.APIVersion != "v1" || st.Status != "Failure" || int(st.Code) != tc.code ||
				st.Reason != tc.reason || st.Message != tc.message {
				t.Errorf("got %+v, want reason %q message %q", st, tc.reason, tc.message)
			}
		})
	}
}

func TestProcessKilledBySignalReportsLikeARuntime(t *testing.T) {
	base := startNode(t)
	v, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	out, errOut, st := wsExec(t, base, v, []string{"sh", "-c", "kill -9 $$"}, nil)
	if len(out)+len(errOut) != 0 || st != wantStatus(v, 137) {
		t.Fatalf("got out %q err %q status %s, want status for 137", out, errOut, st)
	}
}

// TestExecFailureReportsLikeTheKubelet: a command that cannot start ends
// with the kubelet's InternalError status, in its words around the
// runtime's error, on every WebSocket version that carries a status.
func TestExecFailureReportsLikeTheKubelet(t *testing.T) {
	base := startNode(t)
	for _, name := range []string{protocol.V5, protocol.V4} {
		v, _ := protocol.Lookup(protocol.WebSocketVersions, name)
		_, _, st := wsExec(t, base, v, []string{"/nonexistent/porthole-test"}, nil)
		const want = `"message":"Internal error occurred: error executing command in container: exec: \"/nonexistent/porthole-test\": `
		if !strings.Contains(st, want) || !strings.Contains(st, `"reason":"InternalError"`) || !strings.Contains(st, `"code":500`) {
			t.Errorf("%s: status %s, want the kubelet's InternalError with %s", name, st, want)
		}
	}
}

func TestUnsupportedSubprotocolIsRefusedAndServerGoesOn(t *testing.T) {
	base := startNode(t)
	req, _ := http.NewRequest("GET", execURL(base, "p", []string{"true"}, "stdout"), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "v3.channel.k8s.io, binary.k8s.io")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(body) != 0 {
		t.Fatalf("got %d %q, want an empty 403", resp.StatusCode, body)
	}
	v, _ := protocol.Lookup(protocol.WebSocketVersions, protocol.V5)
	if out, _, st := wsExec(t, base, v, []string{"echo", "still here"}, nil); string(out) != "still here\n" || st != wantStatus(v, 0) {
		t.Fatalf("next session: got %q %s", out, st)
	}
}

func sizeMsg(w, h uint16) []byte { return resize.Append(nil, resize.Size{Width: w, Height: h}) }
