package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/freezer"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/transport/websocket"
)

// twoReplicas serves replicas r1 and r2 of a gateway in front of one node,
// peers of each other with the same token, tokens and RBAC; it returns
// their URLs.
func twoReplicas(t *testing.T, peerToken string) (r1, r2 string) {
	return twoReplicasWith(t, peerToken, 0)
}

// twoReplicasWith is twoReplicas with sessions that resume for grace.
func twoReplicasWith(t *testing.T, peerToken string, grace time.Duration) (r1, r2 string) {
	t.Helper()
	return twoReplicasRBAC(t, peerToken, grace, sessionsRBAC)
}

// twoReplicasRBAC is twoReplicasWith with other RBAC objects.
func twoReplicasRBAC(t *testing.T, peerToken string, grace time.Duration, rbacYAML string) (r1, r2 string) {
	t.Helper()
	node := streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, nil).URL
	up, _ := url.Parse(node)
	srvs := []*httptest.Server{httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)}
	urls := map[string]*url.URL{}
	for i, s := range srvs {
		urls[[]string{"r1", "r2"}[i]] = &url.URL{Scheme: "http", Host: s.Listener.Addr().String()}
	}
	for i, s := range srvs {
		tokens, err := gateway.ParseTokens(strings.NewReader(sessionsTokens))
		if err != nil {
			t.Fatal(err)
		}
		rbac := gateway.NewRBAC()
		if err := rbac.Load(strings.NewReader(rbacYAML)); err != nil {
			t.Fatal(err)
		}
		tok := peerToken
		if i == 0 {
			tok = "replica-secret" // r1's own; r2's may differ
		}
		g, err := gateway.New(&gateway.Options{Upstream: up, Tokens: tokens, Authorizer: rbac, JoinableSessions: true,
			ReplicaName: []string{"r1", "r2"}[i], Peers: urls, PeerToken: tok, SessionResumeGrace: grace})
		if err != nil {
			t.Fatal(err)
		}
		s.Config.Handler = g
		s.Start()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := g.Shutdown(ctx); err != nil {
				t.Errorf("gateway shutdown: %v", err)
			}
			s.Close()
		})
	}
	return srvs[0].URL, srvs[1].URL
}

// TestReplicasKeepAuthenticatedGroup: a replica speaking for a user keeps
// the user's system:authenticated, so that RBAC bound to it holds on the
// replica that has the session as on the one the user reached.
func TestReplicasKeepAuthenticatedGroup(t *testing.T) {
	r1, r2 := twoReplicasRBAC(t, "replica-secret", 0, sessionsRBAC+`---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everyone-watches}
subjects: [{kind: Group, name: "system:authenticated"}]
roleRef: {kind: ClusterRole, name: session-watcher}
`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess := ownerSession(t, ctx, protocol.WebSocket, execURL(r1, []string{"sh", "-c", "echo ready; exec cat"}, "stdin", "stdout", "stderr"))
	status := drain(sess.Error)
	out := drain(sess.Stdout)
	drain(sess.Stderr)
	out.await(t, "ready\n")
	l := awaitList(t, r2, "carol-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
	watch, err := dialWatcher(ctx, r2, "default", l.Items[0].ID, "carol-token", false)
	if err != nil {
		t.Fatalf("carol's watch through r2: %v", err)
	}
	defer watch.Close()
	watchOut := drain(watch.Channel(channel.Stdout))
	watchOut.await(t, "ready\n")
	sess.Stdin.CloseWrite()
	if st := status.wait(); !strings.Contains(st, `"status":"Success"`) {
		t.Errorf("owner's status %s", st)
	}
}

// TestReplicasServeEachOthersSessions: alice's session runs through r1;
// bob lists it, watches it and joins it through r2; carol is refused by
// r2 as by r1; a request claiming to come from a replica without its
// token is refused.
func TestReplicasServeEachOthersSessions(t *testing.T) {
	r1, r2 := twoReplicas(t, "replica-secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess := ownerSession(t, ctx, protocol.WebSocket, execURL(r1, []string{"sh", "-c", "echo ready; exec cat"}, "stdin", "stdout", "stderr"))
	status := drain(sess.Error)
	out, errOut := drain(sess.Stdout), drain(sess.Stderr)
	out.await(t, "ready\n")

	l := awaitList(t, r2, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
	it := l.Items[0]
	if !strings.HasPrefix(it.ID, "r1.") || it.User != "alice" || it.Pod != "p" || !it.Joinable {
		t.Fatalf("r2 lists %+v", it)
	}
	if l1, _ := listSessions(t, r1, protocol.SessionsPath+"/sessions", "bob-token", http.StatusOK); len(l1.Items) != 1 || l1.Items[0].ID != it.ID {
		t.Fatalf("r1 lists %+v", l1.Items)
	}

	watch, err := dialWatcher(ctx, r2, "default", it.ID, "bob-token", false)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	watchOut, watchSt := drain(watch.Channel(channel.Stdout)), drain(watch.Channel(channel.Error))
	watchOut.await(t, "ready\n")
	errOut.await(t, "[porthole] bob is watching this session\n")
	join, err := dialWatcher(ctx, r2, "default", it.ID, "bob-token", true)
	if err != nil {
		t.Fatal(err)
	}
	defer join.Close()
	joinOut, joinSt := drain(join.Channel(channel.Stdout)), drain(join.Channel(channel.Error))
	if _, err := join.Channel(channel.Stdin).Write([]byte("via r2\n")); err != nil {
		t.Fatal(err)
	}
	out.await(t, "ready\nvia r2\n")
	watchOut.await(t, "ready\nvia r2\n")
	joinOut.await(t, "ready\nvia r2\n")
	if l := awaitList(t, r2, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 && len(l.Items[0].Watchers) == 2 }); l.Items[0].Watchers[1].Mode != "join" {
		t.Errorf("watchers %+v", l.Items[0].Watchers)
	}

	// carol: refused by r2 itself, and by r1 behind it.
	if _, err := dialWatcher(ctx, r2, "default", it.ID, "carol-token", false); upgradeCode(err) != http.StatusForbidden {
		t.Errorf("carol's watch through r2: %v", err)
	}
	// Claiming to be a replica takes its token.
	for _, tok := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodGet, r1+protocol.SessionsPath+"/sessions", nil)
		req.Header.Set("X-Porthole-Peer-Token", tok)
		req.Header.Set("X-Porthole-Peer-User", "bob")
		if tok == "" {
			req.Header.Set("X-Porthole-Peer-Token", "x")
			req.Header.Set("X-Porthole-Peer-User", "")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forged replica request (token %q): %d", tok, resp.StatusCode)
		}
	}
	// Even with the token, a replica speaks for a user on the sessions API only.
	req, _ := http.NewRequest(http.MethodGet, r1+"/api/v1/namespaces/default/pods", nil)
	req.Header.Set("X-Porthole-Peer-Token", "replica-secret")
	req.Header.Set("X-Porthole-Peer-User", "bob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replica request off the sessions API: %d", resp.StatusCode)
	}

	sess.Stdin.CloseWrite()
	if st := status.wait(); !strings.Contains(st, `"status":"Success"`) {
		t.Errorf("owner's status %s", st)
	}
	for _, w := range []struct{ out, st *safeBuffer }{{watchOut, watchSt}, {joinOut, joinSt}} {
		if got, st := w.out.wait(), w.st.wait(); got != "ready\nvia r2\n" || !strings.Contains(st, `"status":"Success"`) {
			t.Errorf("watched through r2: %q, status %s", got, st)
		}
	}
}

// TestReplicaWithWrongPeerToken: a replica whose peer token differs lists
// only its own sessions, and cannot reach another's.
func TestReplicaWithWrongPeerToken(t *testing.T) {
	r1, r2 := twoReplicas(t, "another-secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess := ownerSession(t, ctx, protocol.WebSocket, execURL(r1, []string{"sh", "-c", "echo ready; exec cat"}, "stdin", "stdout", "stderr"))
	status, out := drain(sess.Error), drain(sess.Stdout)
	drain(sess.Stderr)
	out.await(t, "ready\n")
	l1 := awaitList(t, r1, "bob-token", func(l protocol.SessionList) bool { return len(l.Items) == 1 })
	if l, _ := listSessions(t, r2, protocol.SessionsPath+"/sessions", "bob-token", http.StatusOK); len(l.Items) != 0 {
		t.Errorf("r2 listed %+v with a wrong token", l.Items)
	}
	_, _, err := websocket.Dial(ctx, r2+protocol.SessionsPath+"/namespaces/default/sessions/"+l1.Items[0].ID+"/watch",
		&websocket.DialOptions{Header: tokenHeader("bob-token")})
	if upgradeCode(err) != http.StatusUnauthorized {
		t.Errorf("watch through a replica with the wrong token: %v", err)
	}
	sess.Stdin.CloseWrite()
	status.wait()
}

// TestReplicaResume: alice's resumable session, held by r1, is cut; she
// resumes it through r2 from the offset she had, and her stdin and the
// output carry on; bob's resume of it through r2 is refused.
func TestReplicaResume(t *testing.T) {
	r1, r2 := twoReplicasWith(t, "replica-secret", time.Minute)
	u, _ := url.Parse(r1)
	relay := freezer.New(t, u.Host)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := "/api/v1/namespaces/default/pods/p/exec?" + url.Values{"command": {"sh", "-c", "echo up; read x; echo got:$x"},
		"stdin": {"true"}, "stdout": {"true"}}.Encode()
	conn, resp, err := dialResumable(t, ctx, "http://"+relay.Addr()+path, "alice-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	drain(conn.Channel(protocol.ResumeControl)) // the gateway's control lines
	id := resp.Header.Get(protocol.HeaderSession)
	if conn.Protocol() != protocol.ResumeV5 || !strings.HasPrefix(id, "r1.") || len(id) != len("r1.")+32 {
		t.Fatalf("protocol %q, session id %q", conn.Protocol(), id)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(conn.Channel(1), buf); err != nil || string(buf) != "up\n" {
		t.Fatalf("read %q %v", buf, err)
	}
	relay.Cut(100 * time.Millisecond)
	<-conn.Done()

	h := func() http.Header {
		return http.Header{protocol.HeaderResume: {id}, protocol.HeaderResumeOffsets: {"stdout=3"}}
	}
	if _, _, err := dialResumable(t, ctx, r2+path, "bob-token", h()); upgradeCode(err) != http.StatusForbidden {
		t.Fatalf("bob's resume through r2: %v", err)
	}
	var again *websocket.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The session is parked once r1 saw the cut.
		again, resp, err = dialResumable(t, ctx, r2+path, "alice-token", h())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("alice's resume through r2: %v", err)
	}
	defer again.Close()
	if got := resp.Header.Get(protocol.HeaderSession); got != id {
		t.Errorf("resumed session %q, want %q", got, id)
	}
	out, st := drain(again.Channel(1)), drain(again.Channel(3))
	drain(again.Channel(protocol.ResumeControl)) // the gateway's stdin acknowledgements
	if _, err := again.Channel(0).Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	out.await(t, "got:x\n")
	st.await(t, `"status":"Success"`)
	// Acknowledging every byte (3 before the cut) ends the session cleanly.
	ack := protocol.FormatOffsets(protocol.Offsets{Stdout: 3 + int64(len("got:x\n")), Error: int64(len(st.String()))})
	if _, err := again.Channel(protocol.ResumeControl).Write([]byte(ack + "\n")); err != nil {
		t.Fatal(err)
	}
	<-again.Done()
	if err := again.Err(); err != nil || out.wait() != "got:x\n" {
		t.Errorf("resumed connection ended with %v, output %q", err, out.String())
	}
}
