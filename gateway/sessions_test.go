package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// Users of the sessions tests: alice runs sessions, bob may list, watch
// and join them, carol may only exec, mod moderates prod.
const sessionsTokens = `alice-token,alice,1,devs
bob-token,bob,2,devs
carol-token,carol,3,devs
mod-token,mod,4,devs
`

const sessionsRBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: exec}
rules:
- {apiGroups: [""], resources: [pods/exec, pods/attach], verbs: [get, create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: devs-exec}
subjects: [{kind: Group, name: devs}]
roleRef: {kind: ClusterRole, name: exec}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: session-watcher}
rules:
- {apiGroups: [porthole.dev], resources: [sessions], verbs: [list, get, watch, join]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-watches}
subjects: [{kind: User, name: bob}, {kind: User, name: mod}]
roleRef: {kind: ClusterRole, name: session-watcher}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: moderator, namespace: prod}
rules:
- {apiGroups: [porthole.dev], resources: [sessions], verbs: [moderate]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: mod-moderates, namespace: prod}
subjects: [{kind: User, name: mod}]
roleRef: {kind: Role, name: moderator}
`

// sessionsGateway serves a gateway with RBAC, the sessions tokens and
// opts' sessions settings in front of a node with pod default/p and
// prod/q; it returns the gateway's URL and its audit log.
func sessionsGateway(t *testing.T, opts gateway.Options) (string, *auditLog) {
	t.Helper()
	return sessionsGatewayOn(t, opts, nil)
}

// sessionsGatewayOn is sessionsGateway with the node's options.
func sessionsGatewayOn(t *testing.T, opts gateway.Options, nodeOpts *streamtest.NodeOptions) (string, *auditLog) {
	t.Helper()
	q := streamtest.SleepPod("q")
	q.Namespace = "prod"
	node := registerNode(t, streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p"), q}, nodeOpts))
	tokens, err := gateway.ParseTokens(strings.NewReader(sessionsTokens))
	if err != nil {
		t.Fatal(err)
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(sessionsRBAC)); err != nil {
		t.Fatal(err)
	}
	log := &auditLog{}
	opts.Tokens, opts.Authorizer, opts.Audit = tokens, rbac, log
	gw, _ := startGateway(t, node, &opts)
	return gw, log
}

func tokenHeader(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// listSessions GETs path as token and decodes the list (or fails on
// another status than want).
func listSessions(t *testing.T, gw, path, token string, want int) (protocol.SessionList, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, gw+path, nil)
	req.Header = tokenHeader(token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s as %s: %d %s, want %d", path, token, resp.StatusCode, b, want)
	}
	var l protocol.SessionList
	if want == http.StatusOK {
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
	return l, string(b)
}

// awaitList polls the list until ok accepts it.
func awaitList(t *testing.T, gw, token string, ok func(protocol.SessionList) bool) protocol.SessionList {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, _ := listSessions(t, gw, protocol.SessionsPath+"/sessions", token, http.StatusOK)
		if ok(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("list never became what the test waits for: %+v", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readExactly reads len(want) bytes from r and compares them.
func readExactly(t *testing.T, r io.Reader, want string) {
	t.Helper()
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read %q: got %q: %v", want, buf, err)
	}
	if string(buf) != want {
		t.Fatalf("read %q, want %q", buf, want)
	}
}

// ownerSession is alice's session, on either wire, with stdin, stdout and stderr.
func ownerSession(t *testing.T, ctx context.Context, wire protocol.Wire, u string) *stream.Session {
	t.Helper()
	return ownerSessionOn(t, ctx, wire, protocol.V5, u)
}

// ownerSessionOn is ownerSession offering only version over WebSocket.
func ownerSessionOn(t *testing.T, ctx context.Context, wire protocol.Wire, version, u string) *stream.Session {
	t.Helper()
	want := protocol.Want{Stdin: true, Stdout: true, Stderr: true}
	if wire == protocol.SPDY {
		conn, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: protocol.SPDYClientOffer, Header: tokenHeader("alice-token")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		sess, err := conn.OpenSession(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	v, ok := protocol.Lookup(protocol.WebSocketVersions, version)
	if !ok {
		t.Fatalf("no WebSocket version %q", version)
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Versions: []protocol.Version{v}, Header: tokenHeader("alice-token")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if conn.Version().Name != version {
		t.Fatalf("the gateway chose %s, want %s", conn.Version().Name, version)
	}
	return conn.ClientSession(want)
}

// dialWatcher opens a watch or join of session id in ns as token.
func dialWatcher(ctx context.Context, gw, ns, id, token string, join bool) (*websocket.Conn, error) {
	what := "watch"
	if join {
		what = "join"
	}
	u := gw + protocol.SessionsPath + "/namespaces/" + ns + "/sessions/" + id + "/" + what
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Header: tokenHeader(token)})
	return conn, err
}

func upgradeCode(err error) int {
	var ue *stream.UpgradeError
	if errors.As(err, &ue) {
		return ue.StatusCode
	}
	return 0
}

// TestSessionsWatchJoin: alice's session is listed; bob watches it from
// the snapshot on, alice is told, bob joins and his keystrokes reach the
// process, and both watchers end with the session's status; on both
// client wires, bridged by JoinableSessions, and over WebSocket in v5, v4
// (all the official Python client speaks), v4 base64 and v1 (a text
// status). Before v5 there is no stdin close, so alice ends the loop with
// a line.
func TestSessionsWatchJoin(t *testing.T) {
	for _, c := range []struct {
		name    string
		wire    protocol.Wire
		version string
	}{
		{"websocket", protocol.WebSocket, protocol.V5},
		{"websocket-v4", protocol.WebSocket, protocol.V4},
		{"websocket-v4-base64", protocol.WebSocket, protocol.V4Base64},
		{"websocket-v1", protocol.WebSocket, protocol.V1},
		{"spdy", protocol.SPDY, ""},
	} {
		wire := c.wire
		t.Run(c.name, func(t *testing.T) {
			gw, log := sessionsGateway(t, gateway.Options{JoinableSessions: true})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := []string{"sh", "-c", `echo ready; while read l && [ "$l" != end ]; do echo "got:$l"; done; exit 3`}
			sess := ownerSessionOn(t, ctx, wire, c.version, execURL(gw, cmd, "stdin", "stdout", "stderr"))
			// Every stream is read all along: a WebSocket connection's
			// reads wait while one of its channels is not read.
			status := streamtest.ReadAll(sess.Error)
			out, errOut := drain(sess.Stdout), drain(sess.Stderr)
			out.await(t, "ready\n")
			sess.Stdin.Write([]byte("one\n"))
			out.await(t, "ready\ngot:one\n")

			l := awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
			it := l.Items[0]
			if l.Kind != "SessionList" || l.APIVersion != "porthole.dev/v1" || it.User != "alice" || it.Verb != "exec" ||
				it.Namespace != "default" || it.Pod != "p" || strings.Join(it.Command, " ") != strings.Join(cmd, " ") ||
				it.Wire != string(wire) || it.WireUpstream != wantBridgedWire() || !it.Joinable || !it.Stdin || it.TTY ||
				len(it.Watchers) != 0 || time.Since(it.Start) > time.Minute {
				t.Fatalf("list item %+v", it)
			}

			watch, err := dialWatcher(ctx, gw, "default", it.ID, "bob-token", false)
			if err != nil {
				t.Fatal(err)
			}
			defer watch.Close()
			watchOut, watchSt := drain(watch.Channel(channel.Stdout)), drain(watch.Channel(channel.Error))
			watchOut.await(t, "ready\ngot:one\n")
			errOut.await(t, "[porthole] bob is watching this session\n")
			sess.Stdin.Write([]byte("two\n"))
			out.await(t, "got:two\n")
			watchOut.await(t, "ready\ngot:one\ngot:two\n")

			join, err := dialWatcher(ctx, gw, "default", it.ID, "bob-token", true)
			if err != nil {
				t.Fatal(err)
			}
			defer join.Close()
			joinOut, joinSt := drain(join.Channel(channel.Stdout)), drain(join.Channel(channel.Error))
			joinOut.await(t, "ready\ngot:one\ngot:two\n")
			errOut.await(t, "[porthole] bob joined this session (input too)\n")
			l = awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 && len(l.Items[0].Watchers) == 2 })
			if w := l.Items[0].Watchers; w[0].User != "bob" || w[0].Mode != "watch" || w[1].Mode != "join" || w[1].Moderator {
				t.Fatalf("watchers %+v", w)
			}
			if _, err := join.Channel(channel.Stdin).Write([]byte("three\n")); err != nil {
				t.Fatal(err)
			}
			out.await(t, "got:three\n")

			// alice ends her stdin (v4: says so): the process exits 3,
			// everyone gets it.
			v, _ := protocol.Lookup(protocol.WebSocketVersions, c.version)
			if wire == protocol.WebSocket && !v.CloseSignal {
				sess.Stdin.Write([]byte("end\n"))
			} else {
				sess.Stdin.CloseWrite()
			}
			st := string(<-status)
			if wire == protocol.WebSocket && !v.StatusJSON {
				if want := "command terminated with non-zero exit code: command terminated with exit code 3"; st != want {
					t.Errorf("owner's status %q, want %q", st, want)
				}
			} else if !strings.Contains(st, `"reason":"NonZeroExitCode"`) || !strings.Contains(st, `"message":"3"`) {
				t.Errorf("owner's status %s", st)
			}
			const all = "ready\ngot:one\ngot:two\ngot:three\n"
			for _, c := range []struct {
				conn    *websocket.Conn
				out, st *safeBuffer
			}{{watch, watchOut, watchSt}, {join, joinOut, joinSt}} {
				<-c.conn.Done()
				if c.conn.Err() != nil {
					t.Errorf("watcher's connection: %v", c.conn.Err())
				}
				st := c.st.wait()
				if got := c.out.wait(); got != all || !strings.Contains(st, `"reason":"NonZeroExitCode"`) || !strings.Contains(st, `"message":"3"`) {
					t.Errorf("watcher: output %q status %s", got, st)
				}
			}
			if got := out.wait(); got != all {
				t.Errorf("owner's stdout %q, want %q", got, all)
			}
			if got, want := errOut.wait(), "[porthole] bob is watching this session\n[porthole] bob joined this session (input too)\n"; got != want {
				t.Errorf("owner's stderr %q, want %q", got, want)
			}
			for _, stage := range []audit.Stage{audit.StageWatch, audit.StageJoin, audit.StageLeave} {
				awaitAudit(t, log, string(stage), func(e audit.Event) bool {
					return e.Stage == stage && e.User == "bob" && e.Owner == "alice" && e.ID == it.ID && e.Pod == "p"
				})
			}
			awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 0 })
		})
	}
}

// TestSessionsRefusals: a user without the verbs gets the API server's
// 403 (audited); a spliced session cannot be joined but can be watched;
// an unknown session is a 404; another user's resume is refused.
func TestSessionsRefusals(t *testing.T) {
	gw, log := sessionsGateway(t, gateway.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess := ownerSession(t, ctx, protocol.WebSocket, execURL(gw, []string{"sh", "-c", "echo ready; exec cat"}, "stdin", "stdout", "stderr"))
	out, _ := drain(sess.Stdout), drain(sess.Stderr)
	status := drain(sess.Error)
	out.await(t, "ready\n")
	l := awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
	id := l.Items[0].ID
	if l.Items[0].Joinable {
		t.Error("a spliced session is listed as joinable")
	}

	_, body := listSessions(t, gw, protocol.SessionsPath+"/sessions", "carol-token", http.StatusForbidden)
	if want := `sessions is forbidden: User \"carol\" cannot list resource \"sessions\" in API group \"porthole.dev\" at the cluster scope`; !strings.Contains(body, want) {
		t.Errorf("carol's list: %s", body)
	}
	_, body = listSessions(t, gw, protocol.SessionsPath+"/namespaces/default/sessions", "carol-token", http.StatusForbidden)
	if want := `in the namespace \"default\"`; !strings.Contains(body, want) {
		t.Errorf("carol's namespaced list: %s", body)
	}
	for _, join := range []bool{false, true} {
		_, err := dialWatcher(ctx, gw, "default", id, "carol-token", join)
		if upgradeCode(err) != http.StatusForbidden {
			t.Errorf("carol's watch (join %v): %v", join, err)
		}
	}
	if log.find(func(e audit.Event) bool {
		return e.Stage == audit.StageDenied && e.User == "carol" && e.Verb == "sessions/join" && e.ID == id && e.Code == 403
	}) == nil {
		t.Error("carol's join was not audited")
	}
	_, err := dialWatcher(ctx, gw, "default", id, "bob-token", true)
	if upgradeCode(err) != http.StatusConflict || !strings.Contains(err.Error(), "spliced") {
		t.Errorf("join of a spliced session: %v", err)
	}
	_, err = dialWatcher(ctx, gw, "default", "nope", "bob-token", false)
	if upgradeCode(err) != http.StatusNotFound {
		t.Errorf("watch of an unknown session: %v", err)
	}
	_, err = dialWatcher(ctx, gw, "prod", id, "bob-token", false)
	if upgradeCode(err) != http.StatusNotFound {
		t.Errorf("watch in another namespace: %v", err)
	}
	// A spliced session is watched all the same.
	watch, err := dialWatcher(ctx, gw, "default", id, "bob-token", false)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	watchOut, watchSt := drain(watch.Channel(channel.Stdout)), drain(watch.Channel(channel.Error))
	watchOut.await(t, "ready\n")
	sess.Stdin.Write([]byte("spliced\n"))
	out.await(t, "ready\nspliced\n")
	watchOut.await(t, "ready\nspliced\n")
	// Ending a session is a moderator's: bob may not.
	req, _ := http.NewRequest(http.MethodDelete, gw+protocol.SessionsPath+"/namespaces/default/sessions/"+id, nil)
	req.Header = tokenHeader("bob-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob's DELETE: %d", resp.StatusCode)
	}
	sess.Stdin.CloseWrite()
	if st := status.wait(); !strings.Contains(st, `"status":"Success"`) {
		t.Errorf("owner's status %s", st)
	}
	if got, st := watchOut.wait(), watchSt.wait(); got != "ready\nspliced\n" || !strings.Contains(st, `"status":"Success"`) {
		t.Errorf("watcher of the spliced session: %q %s", got, st)
	}
}

// TestSessionsSlowWatcher: a watcher that reads nothing is dropped once
// it falls a bounded amount behind, and the session's 16 MiB reach its
// owner whole.
func TestSessionsSlowWatcher(t *testing.T) {
	gw, log := sessionsGateway(t, gateway.Options{JoinableSessions: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	sess := ownerSession(t, ctx, protocol.WebSocket, execURL(gw, []string{"sh", "-c", "read go; cat " + filepath.Join(dir, "data")}, "stdin", "stdout", "stderr"))
	l := awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
	watch, err := dialWatcher(ctx, gw, "default", l.Items[0].ID, "bob-token", false)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	errs, status := drain(sess.Stderr), drain(sess.Error)
	errs.await(t, "[porthole] bob is watching this session\n")
	sess.Stdin.Write([]byte("go\n"))
	h := sha256.New()
	n, err := io.Copy(h, sess.Stdout)
	if sum := sha256.Sum256(data); err != nil || n != int64(len(data)) || !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatalf("owner read %d bytes (%v), checksum %x, want %x", n, err, h.Sum(nil), sum)
	}
	// The drop is told to the owner when it comes before the session's
	// stderr ends, as it does mid-output or not, depending on scheduling.
	if e := errs.wait(); e != "[porthole] bob is watching this session\n" && e != "[porthole] bob is watching this session\n[porthole] bob stopped watching\n" {
		t.Errorf("owner's stderr: %q", e)
	}
	if st := status.wait(); !strings.Contains(st, `"status":"Success"`) {
		t.Errorf("owner's status %s", st)
	}
	// The watcher, whose stdout is never read, was dropped.
	awaitAudit(t, log, "the slow watcher's end", func(e audit.Event) bool {
		return e.Stage == audit.StageLeave && e.User == "bob" &&
			e.Reason == "the watcher fell behind the session's output by more than its buffer"
	})
}

// TestModeratedSession: a session into prod waits, its stdin held and its
// owner told, until a moderator joins (a joiner who is not one does not
// open it); the moderator ends it; all of it audited and recorded. Over
// WebSocket v5 and v4 (the official Python client's only version); a
// client offering no version is refused.
func TestModeratedSession(t *testing.T) {
	for _, version := range []string{protocol.V5, protocol.V4} {
		t.Run(version, func(t *testing.T) {
			recDir := t.TempDir()
			gw, log := sessionsGateway(t, gateway.Options{ModeratedNamespaces: []string{"prod"}, Recorder: &audit.Recorder{Dir: recDir}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			prodURL := func(cmd []string, flags ...string) string {
				q := url.Values{"command": cmd}
				for _, f := range flags {
					q.Set(f, "true")
				}
				return gw + "/api/v1/namespaces/prod/pods/q/exec?" + q.Encode()
			}
			// Without stdin there is nothing to hold: refused.
			_, _, err := websocket.Dial(ctx, prodURL([]string{"true"}, "stdout"), &websocket.DialOptions{Header: tokenHeader("alice-token")})
			if upgradeCode(err) != http.StatusForbidden || !strings.Contains(err.Error(), `sessions in namespace "prod" are moderated: run the command interactively`) {
				t.Fatalf("non-interactive moderated exec: %v", err)
			}

			// A client that offers no remote-command version would pass through
			// unread: refused.
			_, _, err = websocket.Dial(ctx, prodURL([]string{"cat"}, "stdin", "stdout"), &websocket.DialOptions{Versions: []protocol.Version{protocol.UnnamedWebSocket}, Header: tokenHeader("alice-token")})
			if upgradeCode(err) != http.StatusBadRequest || !strings.Contains(err.Error(), `sessions in namespace "prod" are moderated: the gateway moderates SPDY and WebSocket sessions of a remote-command version`) {
				t.Fatalf("moderated exec offering no version: %v", err)
			}

			v, _ := protocol.Lookup(protocol.WebSocketVersions, version)
			conn, _, err := websocket.Dial(ctx, prodURL([]string{"sh", "-c", "echo ready; exec cat"}, "stdin", "stdout", "tty"), &websocket.DialOptions{Versions: []protocol.Version{v}, Header: tokenHeader("alice-token")})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			sess := conn.ClientSession(protocol.Want{Stdin: true, Stdout: true, TTY: true})
			status := streamtest.ReadAll(sess.Error)
			var out safeBuffer
			outDone := make(chan struct{})
			go func() {
				defer close(outDone)
				io.Copy(&out, sess.Stdout)
			}()
			out.await(t, "\r\n[porthole] this session is moderated: its input waits for a moderator to join\r\n")
			out.await(t, "ready\r\n")
			l := awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
			id := l.Items[0].ID
			if it := l.Items[0]; !it.Moderated || !it.WaitingForModerator || !it.Joinable || it.Namespace != "prod" {
				t.Fatalf("moderated session listed as %+v", it)
			}
			sess.Stdin.Write([]byte("held\r"))
			// bob joins: not a moderator, the input stays held.
			bob, err := dialWatcher(ctx, gw, "prod", id, "bob-token", true)
			if err != nil {
				t.Fatal(err)
			}
			defer bob.Close()
			out.await(t, "\r\n[porthole] bob joined this session (input too)\r\n")
			bob.Channel(channel.Stdin).Write([]byte("bob\r"))
			time.Sleep(300 * time.Millisecond)
			if strings.Contains(out.String(), "held") || strings.Contains(out.String(), "bob\r\n") {
				t.Fatalf("held input reached the process before a moderator joined: %q", out.String())
			}
			if l := awaitList(t, gw, "bob-token", func(protocol.SessionList) bool { return true }); !l.Items[0].WaitingForModerator {
				t.Fatal("the session stopped waiting without a moderator")
			}
			mod, err := dialWatcher(ctx, gw, "prod", id, "mod-token", true)
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close()
			out.await(t, "\r\n[porthole] moderator mod joined: input is open\r\n")
			// The held input goes in first, in order; the tty echoes it, cat repeats it.
			out.await(t, "held\r\nbob\r\n")
			l = awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 && !l.Items[0].WaitingForModerator })
			if w := l.Items[0].Watchers; len(w) != 2 || w[1].User != "mod" || !w[1].Moderator || w[0].Moderator {
				t.Fatalf("watchers %+v", w)
			}

			// The moderator ends the session.
			req, _ := http.NewRequest(http.MethodDelete, gw+protocol.SessionsPath+"/namespaces/prod/sessions/"+id, nil)
			req.Header = tokenHeader("mod-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("moderator's DELETE: %d", resp.StatusCode)
			}
			if st := string(<-status); !strings.Contains(st, "the gateway ended the session: ended by moderator mod") {
				t.Errorf("owner's status %s", st)
			}
			<-outDone
			if log.find(func(e audit.Event) bool {
				return e.Stage == audit.StageModeratorEnd && e.User == "mod" && e.Owner == "alice" && e.ID == id
			}) == nil {
				t.Error("the moderator's end was not audited")
			}
			if log.find(func(e audit.Event) bool { return e.Stage == audit.StageJoin && e.User == "mod" && e.Moderator }) == nil {
				t.Error("the moderator's join was not audited as a moderator's")
			}
			if log.find(func(e audit.Event) bool { return e.Stage == audit.StageJoin && e.User == "bob" && !e.Moderator }) == nil {
				t.Error("bob's join was not audited")
			}
			// The recording has the markers, in order with the output.
			var cast []byte
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				files, _ := filepath.Glob(filepath.Join(recDir, "*.cast"))
				if len(files) == 1 {
					cast, _ = os.ReadFile(files[0])
					if bytes.Contains(cast, []byte("ended by moderator mod")) {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			markers := []string{`"m", "bob joined this session (input too)"`, `"m", "mod joined this session (input too)"`,
				`"m", "moderator mod joined: input is open"`, `"m", "ended by moderator mod"`}
			last := -1
			for _, m := range markers {
				i := bytes.Index(cast, []byte(m))
				if i < last {
					t.Errorf("marker %s missing or out of order in %s", m, cast)
				}
				last = i
			}
		})
	}
}

// awaitAudit waits for a record f accepts (the watchers' records are
// written as their handlers end, after their connections).
func awaitAudit(t *testing.T, log *auditLog, what string, f func(audit.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for log.find(f) == nil {
		if time.Now().After(deadline) {
			t.Errorf("no audit record: %s", what)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// safeBuffer collects a session's output for await.
type safeBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	done chan struct{} // closed at the stream's end (drain)
}

// drain copies r into a safeBuffer until r ends.
func drain(r io.Reader) *safeBuffer {
	s := &safeBuffer{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		io.Copy(s, r)
	}()
	return s
}

// wait waits for the end of the stream and returns all of it.
func (s *safeBuffer) wait() string {
	<-s.done
	return s.String()
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// await waits until the output contains want.
func (s *safeBuffer) await(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q never contained %q", s.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSessionsResumableOwnerTold: the owner of a resumable session (the
// web terminal's and porthole exec's) is told who watches, in its output
// stream like the process's own bytes (stderr without a tty), and the
// session's output and exit code are untouched.
func TestSessionsResumableOwnerTold(t *testing.T) {
	gw, _ := sessionsGateway(t, gateway.Options{SessionResumeGrace: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := tokenClient(t, gw, "alice-token")
	pr, pw := io.Pipe()
	stdout, stderr := &safeBuffer{done: make(chan struct{})}, &safeBuffer{done: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- c.Exec(ctx, &client.ExecOptions{Pod: "p", Container: "c", Command: []string{"sh", "-c", "echo ready; read x; echo got-$x; exit 3"},
			StreamOptions: client.StreamOptions{Stdin: pr, Stdout: stdout, Stderr: stderr, Resume: &client.ResumeOptions{}}})
	}()
	stdout.await(t, "ready\n")
	l := awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
	watch, err := dialWatcher(ctx, gw, "default", l.Items[0].ID, "bob-token", false)
	if err != nil {
		t.Fatal(err)
	}
	watchOut := drain(watch.Channel(channel.Stdout))
	stderr.await(t, "[porthole] bob is watching this session\n")
	pw.Write([]byte("it\n"))
	pw.Close()
	var exit *client.ExitError
	if err := <-done; !errors.As(err, &exit) || exit.Code != 3 {
		t.Fatalf("exec: %v, want exit code 3", err)
	}
	if got := stdout.String(); got != "ready\ngot-it\n" {
		t.Errorf("owner's stdout %q", got)
	}
	watchOut.await(t, "got-it\n")
	watch.Close()
}

// TestSessionsBridgeFallsBackToSPDY: an upstream that refuses WebSocket
// (an API server before 1.30 passing it to a kubelet that knows v4 at most)
// gets a bridged session over SPDY, as kubectl falls back. The session
// works, and the list reports its upstream wire as spdy. Lists run all
// along, while the gateway dials and falls back, so that the race detector
// sees the fallback's change of the wire against the list's read.
func TestSessionsBridgeFallsBackToSPDY(t *testing.T) {
	refuseWebSocket := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				time.Sleep(100 * time.Millisecond) // the lists run meanwhile
				http.Error(w, "upgrade to websocket is not supported", http.StatusBadRequest)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	gw, _ := sessionsGatewayOn(t, gateway.Options{JoinableSessions: true}, &streamtest.NodeOptions{Wrap: refuseWebSocket})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	stop, listed := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		defer func() { listed <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw+protocol.SessionsPath+"/sessions", nil)
			req.Header = tokenHeader("bob-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			n++
		}
	}()

	sess := ownerSession(t, ctx, protocol.WebSocket, execURL(gw, []string{"sh", "-c", "echo ready; cat; exit 4"}, "stdin", "stdout", "stderr"))
	status := streamtest.ReadAll(sess.Error)
	out, _ := drain(sess.Stdout), drain(sess.Stderr)
	out.await(t, "ready\n")
	l := awaitList(t, gw, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
	if it := l.Items[0]; it.WireUpstream != "spdy" || it.Wire != "websocket" || !it.Joinable {
		t.Errorf("listed as %+v, want a joinable session with upstream wire spdy", it)
	}
	sess.Stdin.Write([]byte("through spdy\n"))
	out.await(t, "ready\nthrough spdy\n")
	sess.Stdin.CloseWrite()
	if st := string(<-status); !strings.Contains(st, `"reason":"NonZeroExitCode"`) || !strings.Contains(st, `"message":"4"`) {
		t.Errorf("owner's status %s", st)
	}
	close(stop)
	if n := <-listed; n == 0 {
		t.Error("no list ran beside the session")
	}
}
